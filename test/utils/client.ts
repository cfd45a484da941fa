/**
 * Builds an `AnalyticsClient` over the scripted `HttpClient` in a scope the test controls, so a test can close it
 * (and so run the drain) at the moment it chooses.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as AnalyticsClient from "../../src/AnalyticsClient.ts"
import type * as AnalyticsConfig from "../../src/AnalyticsConfig.ts"
import * as MockHttp from "./MockHttp.ts"

export const writeKey = "wk_test_5ecret_K3y"
export const host = "https://api.test"

export const setup = Effect.fnUntraced(function*(
  options: Partial<AnalyticsConfig.Options> = {},
  handler: MockHttp.Handler = MockHttp.ok
) {
  const mock = yield* MockHttp.make(handler)
  const scope = yield* Scope.make()
  const context = yield* Layer.buildWithScope(
    AnalyticsClient.layer({ writeKey, host, ...options }).pipe(Layer.provide(mock.layer)),
    scope
  )
  const client = Context.get(context, AnalyticsClient.AnalyticsClient)
  // Subscribed before any call, so no failure can slip past the test.
  const failures: Array<AnalyticsClient.DeliveryFailure> = []
  yield* client.failures.pipe(
    Stream.runForEach((failure) => Effect.sync(() => failures.push(failure))),
    Effect.forkScoped({ startImmediately: true })
  )
  yield* Effect.yieldNow
  return {
    client,
    requests: mock.requests,
    next: mock.next,
    failures,
    close: Scope.close(scope, Exit.void),
    /** Starts closing in the background, to prove what close waits for. */
    closeInBackground: Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
  }
})

/** Lets the fibers that are ready run until they all wait again (the consumer, the senders). */
export const settle = Effect.gen(function*() {
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

export const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.sync(() => fiber.pollUnsafe() !== undefined)
