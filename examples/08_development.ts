/**
 * Development settings: `maxEventsInBatch: 1` sends every call in a request of its own, so you see each one
 * succeed or fail as you integrate. `http_request` / `http_response` show every attempt (with the
 * `Authorization` header redacted). Switch back to the defaults in production: batching is far cheaper.
 *
 * Run it against a local collector: `npm run example -- development`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST, maxEventsInBatch: 1 })

cioanalytics.on("http_request", (request) => {
  console.log(`→ POST ${request.url}: ${request.messages} message(s), retry ${request.retryCount}`)
})
cioanalytics.on("http_response", (response) => {
  console.log(`← ${response.status ?? "no answer"} in ${response.durationMillis} ms`)
})

cioanalytics.identify({ userId: "dev-user", traits: { email: "dev@example.com" } })
cioanalytics.track({ userId: "dev-user", event: "Tested Integration" })
cioanalytics.page({ userId: "dev-user", name: "Settings" })

await cioanalytics.closeAndFlush()
