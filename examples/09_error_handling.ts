/**
 * Error handling: what fails where.
 *
 * - Invalid params throw a `ValidationError` at once (as the original does); nothing is queued.
 * - Everything else is reported, never thrown: as an `error` event `{ code, reason, ctx }` and to the call's
 *   callback. A call refused after validation (too large, queue full, after close) emits its event during the
 *   call, with the refused message as `ctx`; its callback runs once the call has returned. An `error` event
 *   without a listener never crashes the process.
 *
 * Run it against a local collector: `npm run example -- error_handling`.
 */
// In your project: import { Analytics, ValidationError } from "cdp-analytics-effect/node"
import { Analytics, ValidationError } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const client = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

client.on("error", (err) => {
  // err.code: "delivery_failure" | "message_too_large" | "queue_full" | "flush_timeout" | "call_after_close"
  // err.reason: an AnalyticsError; err.reason.reason._tag says which, with its fields.
  console.error(`cdp-analytics error ${err.code}: ${err.reason.message}`)
  if (err.ctx) console.error(`  message: ${err.ctx.event.type} "${err.ctx.event.event}" ${err.ctx.id}`)
})

// 1. A rule broken: thrown synchronously, naming the field.
try {
  client.track({ userId: "123", event: "" })
} catch (error) {
  if (!(error instanceof ValidationError)) throw error
  console.log(`refused: field "${error.field}": ${error.message}`)
}

// 2. Over the 32 KB per-message limit: refused, reported to the callback and as `message_too_large`.
client.track({ userId: "123", event: "Huge Event", properties: { blob: "x".repeat(40_000) } }, (err) => {
  if (err?.reason._tag === "MessageTooLarge") console.log(`not queued: ${err.reason.size} bytes`)
})

// 3. A final HTTP failure: a wrong write key gets 401, which is never retried (`delivery_failure`).
const misconfigured = new Analytics({ writeKey: "not-the-right-key", host: CUSTOMERIO_HOST, maxRetries: 0 })
misconfigured.on("error", (err) => console.error(`misconfigured client: ${err.code}: ${err.reason.message}`))
misconfigured.track({ userId: "123", event: "Lost Event" }, (err, ctx) => {
  if (err?.reason._tag === "HttpError") console.log(`${ctx?.event.event} failed with status ${err.reason.status}`)
})

// 4. A valid call.
client.track({ userId: "123", event: "Test Event" })

await Promise.all([client.closeAndFlush(), misconfigured.closeAndFlush()])

// 5. After close, calls are refused: `call_after_close` event (with the message), and the callback gets ClientClosed.
client.on("call_after_close", (message) => console.log(`dropped after close: ${message.type} ${message.messageId}`))
client.track({ userId: "123", event: "Too Late" }, (err) => console.log(`callback: ${err?.reason._tag}`))
