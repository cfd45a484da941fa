/**
 * Page: record a page view, with optional extra information about the page.
 *
 * `category` is also copied into `properties.category`. Run it: `npm run example -- page`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

cioanalytics.page({
  userId: "019mr8mf4r",
  category: "Docs",
  name: "Customer.io CDP",
  properties: {
    url: "https://customer.io/cdp/",
    path: "/cdp/",
    title: "Customer.io CDP",
    referrer: "https://customer.io"
  }
})

await cioanalytics.closeAndFlush()
console.log("sent 1 page view")
