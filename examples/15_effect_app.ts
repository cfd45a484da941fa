/**
 * An Effect application: your own service uses `AnalyticsClient`, the layers are composed once, and
 * `NodeRuntime.runMain` runs the program. When the program ends (or on SIGINT/SIGTERM, which interrupt it) the
 * layer's scope closes: the client sends what is queued and waits for in-flight requests, up to `closeTimeout`.
 *
 * Run it against a local collector: `npm run example -- effect_app`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Context, Effect, Layer } from "effect"
// In your project: import { AnalyticsClient, AnalyticsError } from "cdp-analytics-effect"
// and import * as NodeTransport from "cdp-analytics-effect/NodeTransport"
import { AnalyticsClient, type AnalyticsError } from "../src/index.ts"
import * as NodeTransport from "../src/NodeTransport.ts"

// Your own service, which reports what it does.
class Signups extends Context.Service<Signups, {
  readonly register: (email: string) => Effect.Effect<string, AnalyticsError.AnalyticsError>
}>()("app/Signups") {
  static readonly layer = Layer.effect(
    Signups,
    Effect.gen(function*() {
      const analytics = yield* AnalyticsClient.AnalyticsClient
      return Signups.of({
        register: Effect.fn("Signups.register")(function*(email: string) {
          const userId = `user-${email.split("@")[0]}`
          // Each call validates and queues, without waiting for the network.
          yield* analytics.identify({ userId, traits: { email, createdAt: new Date() } })
          yield* analytics.track({ userId, event: "Signed Up", properties: { plan: "trial" } })
          return userId
        })
      })
    })
  )
}

const AnalyticsLive = AnalyticsClient.layer({
  writeKey: process.env.CUSTOMERIO_WRITE_KEY ?? "YOUR_API_KEY",
  host: process.env.CUSTOMERIO_HOST
}).pipe(Layer.provide(NodeTransport.layer()))

const MainLive = Signups.layer.pipe(Layer.provide(AnalyticsLive))

const main = Effect.gen(function*() {
  const signups = yield* Signups
  const ids = yield* Effect.forEach(["ada@example.com", "grace@example.com"], signups.register)
  yield* Effect.logInfo(`registered ${ids.join(", ")}`)
})

main.pipe(Effect.provide(MainLive), NodeRuntime.runMain)
