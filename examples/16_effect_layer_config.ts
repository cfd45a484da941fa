/**
 * Options from the environment: `AnalyticsClient.layerConfig()` reads `CUSTOMERIO_WRITE_KEY` (required) and the
 * optional `CUSTOMERIO_REGION`, `CUSTOMERIO_HOST`, `CUSTOMERIO_MAX_EVENTS_IN_BATCH`, … through Effect's `Config`, so
 * the key is `Redacted` from the start. A missing or malformed variable fails the layer with an `InvalidOption` naming
 * it (`CUSTOMERIO_WRITE_KEY is missing: …`, `CUSTOMERIO_REGION must be one of "us", "eu", got "mars"`);
 * `layerConfig(myConfig)` reads your own names instead (see docs/configuration.md).
 *
 * Run it against a local collector: `npm run example -- effect_layer_config`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
// In your project: import { AnalyticsClient } from "cdp-analytics-effect"
// and import * as NodeTransport from "cdp-analytics-effect/NodeTransport"
import { AnalyticsClient } from "../src/index.ts"
import * as NodeTransport from "../src/NodeTransport.ts"

const AnalyticsLive = AnalyticsClient.layerConfig().pipe(Layer.provide(NodeTransport.layer()))

const main = Effect.gen(function*() {
  const analytics = yield* AnalyticsClient.AnalyticsClient
  const sent = yield* analytics.track({ userId: "019mr8mf4r", event: "Configured From Env" })
  yield* Effect.logInfo(`queued ${sent.messageId}`)
})

main.pipe(Effect.provide(AnalyticsLive), NodeRuntime.runMain)
