/**
 * The Effect API with a typed tracking plan and `beforeSend` steps: `TrackingPlan.layer(plan)` makes the client check
 * every call against the plan and `AnalyticsClient.typed(plan)` types the calls; `Enrich.layer(...)` runs steps on
 * every message in the caller's fiber: here the caller's span's ids (`traceId`, `spanId`), a static `context.app`,
 * and a removed `traits.password`. The receipt's `delivered` waits for this message's outcome. Run it: `npm run
 * example -- effect_enrich`. More in docs/tracking-plan.md.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
// In your project: import { AnalyticsClient, TrackingPlan } from "cdp-analytics-effect"
// and import * as Enrich from "cdp-analytics-effect/Enrich"
import * as Enrich from "../src/Enrich.ts"
import { AnalyticsClient, TrackingPlan } from "../src/index.ts"
import * as NodeTransport from "../src/NodeTransport.ts"

const plan = TrackingPlan.make({
  events: { "Signed Up": Schema.Struct({ plan: Schema.Literals(["free", "pro"]) }) },
  traits: Schema.Struct({ email: Schema.String, password: Schema.optional(Schema.String) })
})

const AnalyticsLive = AnalyticsClient.layer({
  writeKey: process.env.CUSTOMERIO_WRITE_KEY ?? "YOUR_API_KEY",
  host: process.env.CUSTOMERIO_HOST
}).pipe(
  Layer.provide([
    NodeTransport.layer(),
    TrackingPlan.layer(plan),
    Enrich.layer(
      Enrich.all(
        Enrich.traceContext,
        Enrich.staticContext({ app: { name: "signup-service" } }),
        Enrich.removePaths(["traits.password"])
      )
    )
  ])
)

const signUp = Effect.fn("signUp")(function*(email: string) {
  const analytics = yield* AnalyticsClient.typed(plan)
  const userId = `user-${email.split("@")[0]}`
  // A careless caller passes the password along: the step removes it before anything leaves the process.
  yield* analytics.identify({ userId, traits: { email, password: "hunter2" } })
  const receipt = yield* analytics.track({ userId, event: "Signed Up", properties: { plan: "pro" } })
  yield* receipt.delivered
  yield* Effect.log(`delivered ${receipt.messageId}, traced as ${String(receipt.message.context.traceId)}`)
})

signUp("ada@example.com").pipe(Effect.provide(AnalyticsLive), NodeRuntime.runMain)
