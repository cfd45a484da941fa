/**
 * Group: associate a person with a group, which Customer.io Journeys stores as an object.
 *
 * `traits.objectTypeId` picks the object type (1, the first type you created, when absent): include it when you
 * send groups to Customer.io. Run it: `npm run example -- group`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

// A company (object type 1).
cioanalytics.group({
  userId: "019mr8mf4r",
  groupId: "56",
  traits: { objectTypeId: 1, name: "Initech", description: "Accounting Software" }
})

// An online course (object type 2). A numeric groupId is sent as its decimal string, "2024".
cioanalytics.group({
  userId: "019mr8mf4r",
  groupId: 2024,
  traits: { objectTypeId: 2, name: "Effect 101" }
})

await cioanalytics.closeAndFlush()
console.log("sent 2 group calls")
