/**
 * Identify: tell Customer.io who a person is and what you know about them (traits).
 *
 * Run it against a local collector: `npm run example -- identify`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

// `npm run example` points these at a local collector; in production set your source's API key.
const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

// userId only: identifies a person and sets traits.
cioanalytics.identify({
  userId: "019mr8mf4r",
  traits: {
    name: "Cool Person",
    email: "cool.person@example.com",
    plan: "Enterprise",
    friends: 42,
    createdAt: new Date("2024-01-15T10:00:00Z") // sent as an ISO-8601 string
  }
})

// anonymousId only: traits for someone you do not know yet.
cioanalytics.identify({ anonymousId: "48d213bb-95c3-4f8d-af97-86b2b404dcfe", traits: { referrer: "newsletter" } })

// Both: associates the earlier anonymous activity with the person. `context.ip` enables geolocation.
cioanalytics.identify({
  userId: "019mr8mf4r",
  anonymousId: "48d213bb-95c3-4f8d-af97-86b2b404dcfe",
  context: { ip: "203.0.113.7" }
})

await cioanalytics.closeAndFlush()
console.log("identified 019mr8mf4r")
