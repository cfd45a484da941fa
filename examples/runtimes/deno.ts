/**
 * A Deno script with the Effect API: `FetchHttpClient.layer` sends with Deno's own `fetch`, and `layerConfig()`
 * reads `CUSTOMERIO_WRITE_KEY` (and the optional `CUSTOMERIO_*` settings) from the environment.
 *
 * Run it: `CUSTOMERIO_WRITE_KEY=… deno run --allow-env --allow-net examples/runtimes/deno.ts`. In your project,
 * import the packages with the `npm:` prefix (`npm:cdp-analytics-effect`, `npm:effect`) or map them in `deno.json`.
 * The Promise API (`new Analytics(...)`) works on Deno too, through its Node compatibility.
 */
import { Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
// In your project: import { AnalyticsClient } from "npm:cdp-analytics-effect"
import { AnalyticsClient } from "../../src/index.ts"

const program = Effect.gen(function*() {
  const analytics = yield* AnalyticsClient.AnalyticsClient
  yield* analytics.identify({ userId: "019mr8mf4r", traits: { email: "cool.person@example.com", runtime: "deno" } })
  yield* analytics.track({ userId: "019mr8mf4r", event: "Report Generated", properties: { format: "pdf" } })
})

// The layer's scope closes when the program ends: what is queued is sent before the script exits.
await program.pipe(
  Effect.provide(AnalyticsClient.layerConfig().pipe(Layer.provide(FetchHttpClient.layer))),
  Effect.runPromise
)
console.log("sent 2 messages from Deno")
