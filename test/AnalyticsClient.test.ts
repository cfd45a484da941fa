import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { FetchHttpClient } from "effect/http"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Random from "effect/Random"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { vi } from "vitest"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import * as AnalyticsMetrics from "../src/AnalyticsMetrics.ts"
import { host, setup, writeKey } from "./utils/client.ts"
import * as MockHttp from "./utils/MockHttp.ts"
import * as Sink from "./utils/sink.ts"

const counter = (metric: typeof AnalyticsMetrics.delivered) => Effect.map(Metric.value(metric), (state) => state.count)

describe("AnalyticsClient", () => {
  for (
    const [name, http] of [
      ["undici", NodeHttpClient.layerUndici],
      ["node:http", NodeHttpClient.layerNodeHttp],
      ["fetch", FetchHttpClient.layer]
    ] as const
  ) {
    it.live(`delivers every call type to a real server on 127.0.0.1 (${name})`, () =>
      Effect.gen(function*() {
        const sink = yield* Sink.make()
        yield* Effect.gen(function*() {
          const analytics = yield* AnalyticsClient.AnalyticsClient
          yield* analytics.identify({ userId: "019mr8mf4r", traits: { plan: "Enterprise", friends: 42 } })
          yield* analytics.track({ userId: "019mr8mf4r", event: "added_to_cart", properties: { revenue: 39.95 } })
          yield* analytics.page({ userId: "019mr8mf4r", category: "Docs", name: "Customer.io CDP" })
          yield* analytics.screen({ anonymousId: "48d213bb", name: "Home" })
          yield* analytics.group({ userId: "019mr8mf4r", groupId: 56, traits: { name: "Initech", objectTypeId: 2 } })
          yield* analytics.alias({ previousId: "anonymous_user", userId: "identified@example.com" })
        }).pipe(
          Effect.provide(
            AnalyticsClient.layer({ writeKey, host: sink.host, compression: "gzip" }).pipe(Layer.provide(http))
          )
        )
        // The layer's scope closed above: close drained everything before returning.
        const messages = sink.requests.flatMap((r) => r.body.batch)
        assert.deepStrictEqual(messages.map((m) => m.type), ["identify", "track", "page", "screen", "group", "alias"])
        assert.strictEqual(messages[4].groupId, "56")
        assert.strictEqual(messages[2].properties.category, "Docs")
        for (const request of sink.requests) {
          assert.strictEqual(request.url, "/v1/batch")
          assert.strictEqual(request.headers.authorization, `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`)
          assert.strictEqual(request.headers["content-encoding"], "gzip")
        }
      }).pipe(Effect.scoped))
  }

  it.effect("failures: nothing is parsed or kept for them while nobody subscribes (and nothing logs)", () =>
    Effect.gen(function*() {
      const mock = yield* MockHttp.make(() => Effect.succeed({ status: 400 }))
      const analytics = yield* Layer.build(
        AnalyticsClient.layer({ writeKey, host, maxEventsInBatch: 10, logLevel: "None" })
      ).pipe(
        Effect.map(Context.get(AnalyticsClient.AnalyticsClient)),
        Effect.provide(mock.layer)
      )
      const parse = vi.spyOn(JSON, "parse")
      yield* Effect.addFinalizer(() => Effect.sync(() => parse.mockRestore()))
      for (let i = 0; i < 10; i++) yield* analytics.track({ userId: "u", event: `e${i}` })
      yield* analytics.flush
      const messagesParsed = parse.mock.calls.filter(([text]) => String(text).startsWith(`{"type":`))
      const sent = mock.requests.flatMap((r) => r.body.batch.map((m) => m.event))
      assert.sameMembers(sent, Array.from({ length: 10 }, (_, i) => `e${i}`))
      assert.strictEqual(messagesParsed.length, 0)
    }))

  it.effect("failures: a subscriber that falls behind keeps only the newest failuresBuffer failures", () =>
    Effect.gen(function*() {
      const mock = yield* MockHttp.make(() => Effect.succeed({ status: 400 }))
      const scope = yield* Scope.make()
      const analytics = yield* Layer.buildWithScope(
        AnalyticsClient.layer({ writeKey, host, maxEventsInBatch: 1, maxConcurrentRequests: 8 }),
        scope
      ).pipe(Effect.map(Context.get(AnalyticsClient.AnalyticsClient)), Effect.provide(mock.layer))
      const gate = yield* Deferred.make<void>()
      const received: Array<string> = []
      const stalled = yield* analytics.failures.pipe(
        Stream.runForEach((failure) =>
          Effect.andThen(Deferred.await(gate), Effect.sync(() => received.push(failure.messages[0]!.event!)))
        ),
        Effect.forkChild({ startImmediately: true })
      )
      const calls = AnalyticsClient.failuresBuffer * 3
      for (let i = 0; i < calls; i++) {
        yield* analytics.track({ userId: "u", event: `e${i}` })
        if (i % 50 === 49) yield* analytics.flush
      }
      yield* analytics.flush
      yield* Scope.close(scope, Exit.void) // the stream ends after what it holds
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stalled)
      // What it had taken before it stalled, then the newest failuresBuffer, in order; the rest was dropped.
      const buffer = AnalyticsClient.failuresBuffer
      assert.isBelow(received.length, buffer + 50)
      assert.deepStrictEqual(
        received.slice(-buffer),
        Array.from({ length: buffer }, (_, i) => `e${calls - buffer + i}`)
      )
    }))

  it.effect("counts enqueued, delivered, failed and retried messages in Metrics", () =>
    Effect.gen(function*() {
      const before = {
        enqueued: yield* counter(AnalyticsMetrics.enqueued),
        delivered: yield* counter(AnalyticsMetrics.delivered),
        failed: yield* counter(AnalyticsMetrics.failed),
        retried: yield* counter(AnalyticsMetrics.retried)
      }
      const { client, next } = yield* setup({ maxEventsInBatch: 1 }, MockHttp.statuses(200, 500, 200, 400))
      yield* client.track({ userId: "u", event: "a" })
      yield* next
      yield* client.track({ userId: "u", event: "b" })
      yield* client.track({ userId: "u", event: "c" })
      yield* TestClock.adjust(60_000)
      yield* client.flush
      assert.strictEqual((yield* counter(AnalyticsMetrics.enqueued)) - before.enqueued, 3)
      assert.strictEqual((yield* counter(AnalyticsMetrics.delivered)) - before.delivered, 2)
      assert.strictEqual((yield* counter(AnalyticsMetrics.failed)) - before.failed, 1)
      assert.strictEqual((yield* counter(AnalyticsMetrics.retried)) - before.retried, 1)
    }))

  it.effect("layerTest records accepted messages with Clock time and Random ids, and still validates", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 5, 1))
      const analytics = yield* AnalyticsClient.AnalyticsClient
      const recorder = yield* AnalyticsClient.AnalyticsRecorder
      yield* analytics.track({ userId: "u1", event: "signed_up" })
      const invalid = yield* Effect.flip(analytics.track({ userId: "u1", event: "" }))
      assert.strictEqual(invalid.reason._tag, "ValidationError")
      const [message, ...rest] = yield* recorder.messages
      assert.strictEqual(rest.length, 0)
      assert.strictEqual(message.event, "signed_up")
      assert.strictEqual(message.timestamp, "2026-06-01T00:00:00.000Z")
      yield* recorder.clear
      assert.strictEqual((yield* recorder.messages).length, 0)
    }).pipe(Effect.provide(AnalyticsClient.layerTest), Random.withSeed("fixed")))

  it.effect("layerConfig reads the write key and options from Config", () =>
    Effect.gen(function*() {
      const mock = yield* MockHttp.make()
      yield* Effect.gen(function*() {
        const analytics = yield* AnalyticsClient.AnalyticsClient
        yield* analytics.track({ userId: "u1", event: "from_env" })
      }).pipe(
        Effect.provide(AnalyticsClient.layerConfig().pipe(Layer.provide(mock.layer))),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({
          env: { CUSTOMERIO_WRITE_KEY: "wk_env", CUSTOMERIO_REGION: "eu" }
        })))
      )
      const [request] = mock.requests
      assert.strictEqual(request.url, "https://cdp-eu.customer.io/v1/batch")
      assert.strictEqual(request.headers["authorization"], `Basic ${Buffer.from("wk_env:").toString("base64")}`)
    }))

  it.effect("an invalid option fails the layer with InvalidOption naming it", () =>
    Effect.gen(function*() {
      const mock = yield* MockHttp.make()
      const error = yield* Effect.flip(
        Effect.provide(Effect.void, AnalyticsClient.layer({ writeKey, maxRetries: -1 }).pipe(Layer.provide(mock.layer)))
      )
      assert.strictEqual(error._tag, "AnalyticsError")
      assert.include(error.message, "maxRetries")
    }))
})
