/**
 * EU data center: `region: "eu"` sends to https://cdp-eu.customer.io. Setting `host` to that URL, as the original
 * library's documentation does, works too; `host` wins over `region` when both are given.
 *
 * Run it against a local collector: `npm run example -- eu_region`.
 */
// In your project: import { Analytics, AnalyticsConfig } from "cdp-analytics-effect"
import { Analytics, AnalyticsConfig } from "../src/index.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

// In production CUSTOMERIO_HOST is unset, so `host` is undefined and `region` decides.
const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, region: "eu", host: CUSTOMERIO_HOST })

// The same thing, spelled the original's way:
// new Analytics({ writeKey: "YOUR_API_KEY", host: "https://cdp-eu.customer.io" })

// Where the request really went: here the local collector when CUSTOMERIO_HOST is set, the EU host otherwise.
cioanalytics.once("http_request", (request) => console.log(`sent to ${request.url}`))
cioanalytics.track({ userId: "019mr8mf4r", event: "eu_event", properties: { datacenter: "eu" } })

await cioanalytics.closeAndFlush()
console.log(`without a host, region "eu" sends to ${AnalyticsConfig.regionHosts.eu}${AnalyticsConfig.defaults.path}`)
