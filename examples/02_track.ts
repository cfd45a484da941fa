/**
 * Track: record what people do. Every `track` call is an event with a name and optional properties.
 *
 * Run it against a local collector: `npm run example -- track`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

// A known person.
cioanalytics.track({
  userId: "019mr8mf4r",
  event: "added_to_cart",
  properties: { product: "shoes", revenue: 39.95, qty: 1, size: 9 }
})

// Someone not identified yet: the event joins their profile once you identify them with this anonymousId.
cioanalytics.track({
  anonymousId: "48d213bb-95c3-4f8d-af97-86b2b404dcfe",
  event: "added_to_cart",
  properties: { product: "shoes", revenue: 39.95, qty: 1, size: 9 }
})

await cioanalytics.closeAndFlush()
console.log("tracked 2 events")
