/**
 * Alias: merge two identities, here an anonymous user who signs up, for destinations that do not reconcile
 * profiles on their own (Mixpanel, for example).
 *
 * Run it against a local collector: `npm run example -- alias`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

// the anonymous user does actions ...
cioanalytics.track({ userId: "anonymous_user", event: "Anonymous Event" })
// the anonymous user signs up and is aliased
cioanalytics.alias({ previousId: "anonymous_user", userId: "identified@example.com" })
// the identified user is identified
cioanalytics.identify({ userId: "identified@example.com", traits: { plan: "Free" } })
// the identified user does actions ...
cioanalytics.track({ userId: "identified@example.com", event: "Identified Action" })

await cioanalytics.closeAndFlush()
console.log("aliased anonymous_user to identified@example.com")
