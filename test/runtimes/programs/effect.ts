/**
 * The Effect API with `FetchHttpClient.layer`: six calls, then the layer's scope closes, which sends what is queued
 * (retrying the batch the collector answers 503) before `run` resolves.
 */
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as AnalyticsClient from "../../../src/AnalyticsClient.ts"
import { calls, runtime, type Settings, type Summary } from "./calls.ts"

export const run = (settings: Settings): Promise<Summary> =>
  Effect.gen(function*() {
    const analytics = yield* AnalyticsClient.AnalyticsClient
    const receipts = [
      yield* analytics.identify(calls.identify),
      yield* analytics.track({ ...calls.track, properties: { ...calls.track.properties, runtime: runtime() } }),
      yield* analytics.page(calls.page),
      yield* analytics.screen(calls.screen),
      yield* analytics.group(calls.group),
      yield* analytics.alias(calls.alias)
    ]
    return receipts
  }).pipe(
    // Closing the layer's scope is the close under test: nothing waits for delivery before it.
    Effect.provide(AnalyticsClient.layer(settings).pipe(Layer.provide(FetchHttpClient.layer))),
    Effect.map((receipts): Summary => ({
      runtime: runtime(),
      outcomes: receipts.map(({ message }) => ({ type: message.type, messageId: message.messageId }))
    })),
    Effect.runPromise
  )
