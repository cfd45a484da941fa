/**
 * Per-call callbacks: every call takes an optional `callback(err, ctx)`, called exactly once, right after the
 * message was delivered (`err` undefined) or finally failed. `ctx.event` is the message as sent, `ctx.id` its
 * `messageId`. Per-type events (`track`, `identify`, …) fire after delivery, and `drained` when nothing is pending.
 * A callback may be `async`: `closeAndFlush` waits for the Promise it returns (within its timeout), as the original
 * does.
 *
 * Run it against a local collector: `npm run example -- callbacks`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

cioanalytics.on("track", (ctx) => console.log(`event: delivered track "${ctx.event.event}"`))
cioanalytics.once("drained", () => console.log("event: drained, nothing pending"))

cioanalytics.track({ userId: "019mr8mf4r", event: "Ultimate Played" }, function(err, ctx) {
  if (err) {
    // There was an error flushing your message...
    console.error(`not delivered: ${err.message}`)
    return
  }
  // Your message was successfully flushed!
  console.log(`callback: delivered ${ctx?.event.type} ${ctx?.id} at ${ctx?.event.timestamp}`)
})

// Methods are bound, so they can be passed around on their own.
const { identify } = cioanalytics
identify({ userId: "019mr8mf4r", traits: { level: 7 } }, (err) => console.log(`callback: identify ${err ?? "ok"}`))

// Turn a callback into a Promise when you want to await one message ...
const delivered = new Promise<string>((resolve, reject) =>
  cioanalytics.track({ userId: "019mr8mf4r", event: "Level Up" }, (err, ctx) => (err ? reject(err) : resolve(ctx!.id)))
)
// ... and flush() to send what is queued now instead of within `flushInterval`. The client stays open.
await cioanalytics.flush()
console.log(`awaited: ${await delivered}`)

// An async callback: closeAndFlush resolves only after it has finished (here, a pretend write to a database).
const audit: Array<string> = []
cioanalytics.track({ userId: "019mr8mf4r", event: "Checkout" }, async (err, ctx) => {
  await new Promise((resolve) => setTimeout(resolve, 50))
  audit.push(`${ctx?.id} ${err === undefined ? "delivered" : err.reason._tag}`)
})

await cioanalytics.closeAndFlush()
console.log(`audit log written before close returned: ${audit.length} entry`)
