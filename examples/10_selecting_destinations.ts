/**
 * Selecting destinations: `integrations` turns destinations on or off for one call. All are on by default;
 * `All: false` turns off every destination not listed as `true`. Names are case sensitive.
 *
 * Run it against a local collector: `npm run example -- selecting_destinations`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

cioanalytics.track({
  event: "Membership Upgraded",
  userId: "97234974",
  integrations: {
    "All": false,
    "Mixpanel": true,
    "Google Analytics": false
  }
})

// `alias` is not supported by every destination: send it only where it means something.
cioanalytics.alias({ previousId: "anon-97234974", userId: "97234974", integrations: { All: false, Mixpanel: true } })

await cioanalytics.closeAndFlush()
console.log("sent 2 calls to selected destinations")
