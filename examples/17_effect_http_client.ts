/**
 * A custom `HttpClient`: the client sends through whatever Effect `HttpClient` layer you provide. Here undici with
 * its own connection pool settings (`NodeHttpClient.layerUndiciOptions`), wrapped to log every attempt. The same
 * layer works for the Promise facade through its `httpClientLayer` option.
 *
 * Other choices: `NodeTransport.layer()` from `cdp-analytics-effect/NodeTransport` (node:http with keep-alive, the
 * facade's default and the fastest), `FetchHttpClient.layer` (edge runtimes), or a mock in tests.
 *
 * Run it against a local collector: `npm run example -- effect_http_client`.
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { HttpClient } from "effect/http"
// In your project: import { Analytics, AnalyticsClient } from "cdp-analytics-effect"
import { Analytics, AnalyticsClient } from "../src/index.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

// undici's Agent options: pool size, keep-alive, connect timeout, TLS (`connect: { ca, cert, key }`), …
const Undici = NodeHttpClient.layerUndiciOptions({
  connections: 8,
  keepAliveTimeout: 30_000,
  connect: { timeout: 5_000 }
})

// Any HttpClient can be wrapped: here to log each attempt (the Authorization header is not printed).
const LoggedUndici = Layer.effect(
  HttpClient.HttpClient,
  Effect.map(
    HttpClient.HttpClient,
    HttpClient.tapRequest((request) => Effect.logInfo(`${request.method} ${request.url}`))
  )
).pipe(Layer.provide(Undici))

// 1. The Effect API.
const program = Effect.gen(function*() {
  const analytics = yield* AnalyticsClient.AnalyticsClient
  yield* analytics.track({ userId: "019mr8mf4r", event: "Sent Through Undici" })
}).pipe(
  Effect.provide(
    AnalyticsClient.layer({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST }).pipe(Layer.provide(LoggedUndici))
  )
)

// 2. The Promise facade, with the same transport.
const viaFacade = Effect.promise(async () => {
  const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST, httpClientLayer: Undici })
  cioanalytics.track({ userId: "019mr8mf4r", event: "Sent Through The Facade" })
  await cioanalytics.closeAndFlush()
})

Effect.andThen(program, viaFacade).pipe(NodeRuntime.runMain)
