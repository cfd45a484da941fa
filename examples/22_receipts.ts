/**
 * Receipts: every call returns `{ messageId, delivered }`. `delivered` is a promise, made only if you read it, that
 * resolves once the API accepted the message and rejects with what stopped it (a final status, retries used up, the
 * close timeout, a refusal). Code that ignores receipts is unaffected. Run it: `npm run example -- receipts`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const analytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

const receipt = analytics.track({ userId: "019mr8mf4r", event: "Contract Signed", properties: { contractId: "c-7" } })
await receipt.delivered
console.log(`delivered ${receipt.messageId}`)

// Fire and forget still works: a receipt nobody reads costs nothing.
analytics.track({ userId: "019mr8mf4r", event: "Page Scrolled" })

await analytics.closeAndFlush()

// After close, a call is refused: its receipt says so instead of throwing.
const late = analytics.track({ userId: "019mr8mf4r", event: "Too Late" })
await late.delivered.catch((error: Error) => console.log(`not delivered: ${error.message}`))
