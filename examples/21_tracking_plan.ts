/**
 * A typed tracking plan: the events this application sends, each with a Schema for its properties. `track` accepts
 * only the plan's events, each with its own properties type (checked by the compiler), and the plan's Schemas check
 * every call at run time too: a violation throws a `ValidationError` naming the path. What the Schemas decode is what
 * is sent (here a `shippedAt` string becomes a `Date`, sent as its ISO string). Run it: `npm run example --
 * tracking_plan`. More in docs/tracking-plan.md.
 */
// In your project: import { Analytics, TrackingPlan, ValidationError } from "cdp-analytics-effect/node"
import { Schema } from "effect"
import { Analytics, TrackingPlan, ValidationError } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const plan = TrackingPlan.make({
  events: {
    "Order Completed": Schema.Struct({
      orderId: Schema.String,
      revenue: Schema.Number,
      shippedAt: Schema.optional(Schema.DateFromString)
    }),
    "Signed Up": Schema.Struct({ plan: Schema.Literals(["free", "pro"]) })
  },
  traits: Schema.Struct({ email: Schema.String, name: Schema.optional(Schema.String) })
})

const analytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST, trackingPlan: plan })

analytics.identify({ userId: "019mr8mf4r", traits: { email: "ada@example.com", name: "Ada" } })
analytics.track({ userId: "019mr8mf4r", event: "Signed Up", properties: { plan: "pro" } })
analytics.track({
  userId: "019mr8mf4r",
  event: "Order Completed",
  properties: { orderId: "o-1001", revenue: 42.5, shippedAt: "2026-12-01T10:00:00Z" }
})

// What the compiler refuses, plain JavaScript cannot send either:
try {
  ;(analytics as unknown as Analytics).track({
    userId: "019mr8mf4r",
    event: "Order Completed",
    properties: { revenue: "42" }
  })
} catch (error) {
  if (error instanceof ValidationError) console.log(`refused: ${error.message}`)
}

// The plan as JSON Schema, for whoever documents or checks the events.
const schema = TrackingPlan.toJsonSchema(plan)
console.log(`the plan's JSON Schema defines ${Object.keys(schema.$defs as object).join(", ")}`)

await analytics.closeAndFlush()
