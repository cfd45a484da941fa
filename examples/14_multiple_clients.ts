/**
 * Multiple clients: each `Analytics` instance is independent (its own key, queue, batching and timers), so parts of
 * an application can send to different sources, or batch differently.
 *
 * Run it against a local collector: `npm run example -- multiple_clients`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env
// Two sources in production; the example's collector accepts one key, so both default to it.
const { MARKETING_WRITE_KEY = CUSTOMERIO_WRITE_KEY, APP_WRITE_KEY = CUSTOMERIO_WRITE_KEY } = process.env

// Marketing events are few and not urgent: large batches, sent at most every 30 s.
const marketingAnalytics = new Analytics({
  writeKey: MARKETING_WRITE_KEY,
  host: CUSTOMERIO_HOST,
  maxEventsInBatch: 100,
  flushInterval: 30_000
})
// Product events drive campaigns: small batches, sent within a second.
const appAnalytics = new Analytics({
  writeKey: APP_WRITE_KEY,
  host: CUSTOMERIO_HOST,
  maxEventsInBatch: 10,
  flushInterval: 1_000
})

marketingAnalytics.track({ userId: "019mr8mf4r", event: "Newsletter Opened", properties: { issue: 42 } })
appAnalytics.track({ userId: "019mr8mf4r", event: "Project Created" })
appAnalytics.track({ userId: "019mr8mf4r", event: "Invite Sent" })

// Closing one leaves the other running.
await marketingAnalytics.closeAndFlush()
appAnalytics.track({ userId: "019mr8mf4r", event: "Invite Accepted" })
await appAnalytics.closeAndFlush()
console.log("both clients closed")
