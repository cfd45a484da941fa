/**
 * Screen: the mobile-app counterpart of `page`, for a backend that reports screen views on behalf of an app.
 *
 * Run it against a local collector: `npm run example -- screen`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

cioanalytics.screen({
  userId: "019mr8mf4r",
  name: "Checkout",
  properties: { step: 2, variant: "dark" },
  context: { app: { name: "Shop", version: "4.2.0" }, device: { type: "ios" } }
})

await cioanalytics.closeAndFlush()
console.log("sent 1 screen view")
