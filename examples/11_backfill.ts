/**
 * Backfilling historical data: a `timestamp` (a `Date` or an ISO-8601 string) says when the call really happened.
 * Leave it out for real-time events: the library stamps each call with the time it was made.
 *
 * For a large import, give each call a stable `messageId` (here derived from the source row), so that running the
 * import twice does not create duplicates. Run it: `npm run example -- backfill`.
 *
 * For history already in files, write one call per line (NDJSON) and let the command import it, resumable:
 * `npx cdp-analytics import orders.ndjson` (docs/import.md).
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

// Rows from your own database.
const orders = [
  { id: 1001, userId: "019mr8mf4r", total: 39.95, placedAt: new Date("2023-03-01T09:30:00Z") },
  { id: 1002, userId: "019mr8mf4r", total: 12.5, placedAt: new Date("2023-04-17T18:05:00Z") },
  { id: 1003, userId: "97234974", total: 99, placedAt: "2023-05-02T07:00:00+02:00" }
]

for (const order of orders) {
  cioanalytics.track({
    userId: order.userId,
    event: "Order Completed",
    properties: { orderId: order.id, total: order.total },
    timestamp: order.placedAt,
    messageId: `order-completed-${order.id}`
  })
}

await cioanalytics.closeAndFlush()
console.log(`backfilled ${orders.length} orders`)
