/**
 * Fault injection over real sockets: the Collector on 127.0.0.1 misbehaves while real HTTP clients send to it (undici
 * and fetch under the Effect API, the facade's own default). Every fault runs through both APIs, and every run must
 * end with each accepted message either delivered exactly once per `messageId`, or, when the fault is final, given
 * exactly one error that names the cause. Waits are short (flushInterval 20 ms, a 200 ms request timeout where a
 * timeout is the fault) and retry counts small, since the backoff starts at 500 ms.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { FetchHttpClient } from "effect/http"
import * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { AnalyticsSettings, EmittedError } from "../src/Analytics.ts"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import type { AnalyticsError } from "../src/AnalyticsError.ts"
import * as Collector from "../src/Collector.ts"
import { Analytics } from "../src/index.ts"
import type { TrackParams } from "../src/Message.ts"

const writeKey = "wk_faults_5ecret"

/** Small windows so a run takes well under a second when nothing is retried. */
const base = {
  flushInterval: 20,
  maxEventsInBatch: 10,
  maxRetries: 3,
  httpRequestTimeout: 5_000,
  closeTimeout: 20_000
} as const

type ClientOptions = Partial<Omit<AnalyticsSettings, "writeKey" | "httpClientLayer">>

interface Scenario {
  readonly options?: ClientOptions
  /** The key the collector expects; the client always sends `writeKey`. */
  readonly collectorKey?: string
  /**
   * Deliver one message first, then forget it: the HTTP client is built and connected, the first-call-at-once rule
   * is spent, so the fault hits a batch of known size formed by count.
   */
  readonly warmup?: boolean
  readonly calls: number
  readonly params?: (i: number) => TrackParams
  readonly arrange?: (collector: Collector.Service) => Effect.Effect<void>
  /** Runs after the calls, before the flush; `firstNoAnswer` completes when an attempt got no HTTP answer. */
  readonly whileSending?: (
    collector: Collector.Service,
    firstNoAnswer: Effect.Effect<void>
  ) => Effect.Effect<void, unknown>
}

interface Call {
  readonly id: string
  /** Final errors reported for this message: the failures stream (Effect API) or the callback (facade). */
  readonly errors: Array<AnalyticsError>
  /** Facade only: every callback invocation, `undefined` meaning delivered. */
  readonly callbacks: Array<AnalyticsError | undefined> | undefined
  /** Facade only: `error` events naming this message. */
  readonly errorEvents: Array<EmittedError> | undefined
}

interface Run {
  readonly calls: ReadonlyArray<Call>
  /** Attempts that ended without an HTTP answer (refused, reset, timed out), as the client saw them. */
  readonly noAnswer: number
  readonly snapshot: Collector.Snapshot
  readonly maxEventsInBatch: number
}

interface Driver {
  readonly name: string
  readonly run: (scenario: Scenario) => Effect.Effect<Run, unknown, Scope.Scope>
}

const defaultParams = (i: number): TrackParams => ({ userId: `u${i % 7}`, event: "fault_test", properties: { n: i } })

const completeOnce = (deferred: Deferred.Deferred<void>) => Deferred.doneUnsafe(deferred, Effect.void)

const effectDriver = (name: string, http: Layer.Layer<HttpClient.HttpClient>): Driver => ({
  name: `Effect API (${name})`,
  run: (scenario) =>
    Effect.gen(function*() {
      const collector = yield* Collector.make({ writeKey: scenario.collectorKey ?? writeKey })
      const options = { ...base, ...scenario.options }
      let noAnswer = 0
      const firstNoAnswer = Deferred.makeUnsafe<void>()
      // Transparent over the real client; it only counts attempts that ended without a response.
      const observed = Layer.effect(
        HttpClient.HttpClient,
        Effect.map(
          HttpClient.HttpClient,
          HttpClient.transform((response) =>
            Effect.onExit(response, (exit) =>
              Effect.sync(() => {
                if (Exit.isFailure(exit)) {
                  noAnswer++
                  completeOnce(firstNoAnswer)
                }
              }))
          )
        )
      ).pipe(Layer.provide(http))
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        AnalyticsClient.layer({ writeKey, host: collector.url, ...options }).pipe(Layer.provide(observed)),
        scope
      )
      const client = Context.get(context, AnalyticsClient.AnalyticsClient)
      const errors = new Map<string, Array<AnalyticsError>>()
      const subscriber = yield* client.failures.pipe(
        Stream.runForEach((failure) =>
          Effect.sync(() => {
            for (const message of failure.messages) {
              errors.set(message.messageId, [...(errors.get(message.messageId) ?? []), failure.error])
            }
          })
        ),
        // In the test's scope, not the client's: the stream ends after close has reported its own failures.
        Effect.forkChild({ startImmediately: true })
      )
      if (scenario.warmup) {
        yield* client.track({ userId: "warmup", event: "warmup" })
        yield* client.flush
        yield* collector.reset
      }
      if (scenario.arrange) yield* scenario.arrange(collector)
      const ids: Array<string> = []
      for (let i = 0; i < scenario.calls; i++) {
        ids.push((yield* client.track((scenario.params ?? defaultParams)(i))).messageId)
      }
      if (scenario.whileSending) yield* scenario.whileSending(collector, Deferred.await(firstNoAnswer))
      yield* client.flush
      yield* Scope.close(scope, Exit.void)
      yield* Fiber.join(subscriber)
      const calls = ids.map((id): Call => ({
        id,
        errors: errors.get(id) ?? [],
        callbacks: undefined,
        errorEvents: undefined
      }))
      return { calls, noAnswer, snapshot: yield* collector.snapshot, maxEventsInBatch: options.maxEventsInBatch ?? 0 }
    })
})

const facadeDriver: Driver = {
  name: "facade",
  run: (scenario) =>
    Effect.gen(function*() {
      const collector = yield* Collector.make({ writeKey: scenario.collectorKey ?? writeKey })
      const options = { ...base, ...scenario.options }
      const analytics = new Analytics({ writeKey, host: collector.url, ...options })
      // Only matters when an assertion below fails half-way: never leave a client running.
      yield* Effect.addFinalizer(() => Effect.promise(() => analytics.closeAndFlush({ timeout: 1_000 })))
      let noAnswer = 0
      const firstNoAnswer = Deferred.makeUnsafe<void>()
      analytics.on("http_response", (response) => {
        if (response.status === undefined) {
          noAnswer++
          completeOnce(firstNoAnswer)
        }
      })
      const errorEvents = new Map<string, Array<EmittedError>>()
      analytics.on("error", (error) => {
        const id = error.ctx?.id ?? "<no ctx>"
        errorEvents.set(id, [...(errorEvents.get(id) ?? []), error])
      })
      if (scenario.warmup) {
        analytics.track({ userId: "warmup", event: "warmup" })
        yield* Effect.promise(() => analytics.flush())
        yield* collector.reset
      }
      if (scenario.arrange) yield* scenario.arrange(collector)
      const calls: Array<Call> = []
      for (let i = 0; i < scenario.calls; i++) {
        // Ids given up front, so a message whose callback never runs is still accounted for.
        const call: Call = { id: `facade-${i}`, errors: [], callbacks: [], errorEvents: [] }
        calls.push(call)
        analytics.track({ ...(scenario.params ?? defaultParams)(i), messageId: call.id }, (err) => {
          call.callbacks!.push(err)
          if (err !== undefined) call.errors.push(err)
        })
      }
      if (scenario.whileSending) yield* scenario.whileSending(collector, Deferred.await(firstNoAnswer))
      yield* Effect.promise(() => analytics.flush())
      yield* Effect.promise(() => analytics.closeAndFlush())
      for (const call of calls) call.errorEvents!.push(...(errorEvents.get(call.id) ?? []))
      return { calls, noAnswer, snapshot: yield* collector.snapshot, maxEventsInBatch: options.maxEventsInBatch ?? 0 }
    })
}

const drivers: ReadonlyArray<Driver> = [
  effectDriver("undici", NodeHttpClient.layerUndici),
  effectDriver("fetch", FetchHttpClient.layer),
  facadeDriver
]

/** Every accepted message arrived exactly once per messageId and nobody was told otherwise. */
const assertAllDelivered = (run: Run) => {
  const received = run.snapshot.messages.map((m) => m.messageId)
  assert.strictEqual(received.length, run.calls.length, "distinct messages received")
  assert.sameMembers(received, run.calls.map((c) => c.id))
  for (const call of run.calls) {
    assert.deepStrictEqual(call.errors, [], `no error for ${call.id}`)
    if (call.callbacks) assert.deepStrictEqual(call.callbacks, [undefined], `one success callback for ${call.id}`)
    if (call.errorEvents) assert.deepStrictEqual(call.errorEvents, [], `no error event for ${call.id}`)
  }
  // A duplicate needs an attempt that arrived but whose answer the client never got (a timeout), and then it
  // re-sends at most one batch.
  assert.isAtMost(run.snapshot.stats.duplicates, run.noAnswer * run.maxEventsInBatch)
}

/** Nothing arrived and each message got exactly one error, which names the cause. */
const assertAllFailed = (run: Run, status: number, cause: RegExp) => {
  assert.deepStrictEqual(run.snapshot.messages, [])
  for (const call of run.calls) {
    assert.strictEqual(call.errors.length, 1, `one error for ${call.id}`)
    const [error] = call.errors
    assert.strictEqual(error.reason._tag, "HttpError")
    assert.strictEqual(error.reason._tag === "HttpError" ? error.reason.status : undefined, status)
    assert.match(error.message, cause)
    assert.isFalse(error.isRetryable)
    if (call.callbacks) assert.deepStrictEqual(call.callbacks, [error], `one failure callback for ${call.id}`)
    if (call.errorEvents) {
      assert.deepStrictEqual(call.errorEvents.map((e) => [e.code, e.reason]), [["delivery_failure", error]])
    }
  }
}

const answers = (run: Run) => run.snapshot.stats.answers

describe.each(drivers)("faults through the $name", (driver) => {
  it.live("20% of requests answer 500 (seeded): all delivered, in call order", () =>
    Effect.gen(function*() {
      const run = yield* driver.run({
        calls: 100,
        // One request at a time, so a batch's attempts take consecutive draws: the first 300 draws of this seed
        // never fail more than 2 in a row, so 3 retries always suffice and the outcome does not depend on timing.
        options: { maxConcurrentRequests: 1, maxEventsInBatch: 5, maxRetries: 3 },
        arrange: (collector) => collector.failureRate({ rate: 0.2, status: 500, seed: "faults-500" })
      })
      assertAllDelivered(run)
      assert.isAtLeast(answers(run)["500"] ?? 0, 1, "the fault happened")
      assert.strictEqual(run.snapshot.stats.duplicates, 0)
      // One request in flight and retried in place: even across retries, arrival order is call order.
      assert.deepStrictEqual(run.snapshot.messages.map((m) => m.messageId), run.calls.map((c) => c.id))
    }))

  it.live("503 bursts: all delivered", () =>
    Effect.gen(function*() {
      const burst = [Collector.Answer.status(503), Collector.Answer.status(503)]
      const run = yield* driver.run({
        calls: 60,
        // 4 answers of 503 in all and 4 retries per batch: no batch can run out, whatever the interleaving.
        options: { maxRetries: 4 },
        arrange: (collector) => collector.script([...burst, Collector.Answer.normal, ...burst])
      })
      assertAllDelivered(run)
      assert.strictEqual(answers(run)["503"], 4)
      assert.strictEqual(run.snapshot.stats.duplicates, 0)
    }))

  it.live("429 with Retry-After: the client pauses, and the pause does not use up a retry", () =>
    Effect.gen(function*() {
      const run = yield* driver.run({
        calls: 5,
        options: { maxRetries: 0 },
        arrange: (collector) => collector.script([Collector.Answer.status(429, { retryAfter: 1 })])
      })
      assertAllDelivered(run)
      const [limited, ...rest] = run.snapshot.requests
      assert.strictEqual(limited?.status, 429)
      const resent = rest.find((r) => r.retryCount === 1)
      assert.isDefined(resent)
      // A lower bound only: the client slept at least the second it was asked to (ms rounding aside).
      assert.isAtLeast(resent!.at - limited!.at, 990)
    }))

  it.live("a request that hangs past httpRequestTimeout is abandoned and retried", () =>
    Effect.gen(function*() {
      const run = yield* driver.run({
        calls: 10,
        warmup: true,
        options: { httpRequestTimeout: 200, maxRetries: 2, flushInterval: 10_000 },
        arrange: (collector) => collector.script([Collector.Answer.hang])
      })
      assertAllDelivered(run)
      assert.strictEqual(answers(run)["hang"], 1)
      assert.isAtLeast(run.noAnswer, 1)
      // The hung request was never accepted, so its retry is not a duplicate.
      assert.strictEqual(run.snapshot.stats.duplicates, 0)
    }))

  it.live("an answer slower than httpRequestTimeout: the request had arrived, so its retry shows as duplicates", () =>
    Effect.gen(function*() {
      const run = yield* driver.run({
        calls: 10,
        warmup: true,
        // flushInterval far away: the 10 calls form one batch by count, and that batch meets the slow answer.
        options: { httpRequestTimeout: 200, maxRetries: 2, flushInterval: 10_000 },
        arrange: (collector) => collector.script([Collector.Answer.latency("1 second")])
      })
      assertAllDelivered(run)
      const [slow] = run.snapshot.requests
      assert.strictEqual(slow?.fault, "latency")
      assert.strictEqual(slow?.accepted, 10)
      // Each message once in `messages`; the re-sent batch is counted, not stored again.
      assert.isAtLeast(run.snapshot.stats.duplicates, 10)
    }))

  it.live("a connection reset without an answer is retried", () =>
    Effect.gen(function*() {
      const run = yield* driver.run({
        calls: 20,
        options: { maxRetries: 2 },
        arrange: (collector) =>
          collector.script([Collector.Answer.drop, Collector.Answer.normal, Collector.Answer.drop])
      })
      assertAllDelivered(run)
      assert.strictEqual(answers(run)["drop"], 2)
      assert.isAtLeast(run.noAnswer, 2)
      assert.strictEqual(run.snapshot.stats.duplicates, 0)
    }))

  it.live("the server is down at start, then comes up: all delivered", () =>
    Effect.gen(function*() {
      const run = yield* driver.run({
        calls: 20,
        options: { maxRetries: 5 },
        arrange: (collector) => collector.down,
        // Up only once the client has really been refused.
        whileSending: (collector, firstNoAnswer) => Effect.andThen(firstNoAnswer, collector.up)
      })
      assertAllDelivered(run)
      assert.isAtLeast(run.noAnswer, 1)
      // The first request the collector saw was already a retry: an earlier attempt found nobody listening.
      assert.isAtLeast(run.snapshot.requests[0]?.retryCount ?? 0, 1)
      assert.strictEqual(run.snapshot.stats.duplicates, 0)
    }))

  it.live("401 (wrong write key) is final: one error per message naming the cause, no retry", () =>
    Effect.gen(function*() {
      const run = yield* driver.run({ calls: 25, collectorKey: "wk_another_source" })
      assertAllFailed(run, 401, /401 \(the write key is wrong/)
      assert.strictEqual(run.snapshot.stats.retries, 0)
      assert.deepStrictEqual(Object.keys(answers(run)), ["401"])
    }))

  it.live("413 on a large batch: split in halves, each delivered", () =>
    Effect.gen(function*() {
      const filler = "x".repeat(20 * 1024)
      const run = yield* driver.run({
        calls: 10,
        warmup: true,
        params: (i) => ({ userId: "u", event: "large", properties: { n: i, filler } }),
        // The client never builds a body over the 500 KB the collector checks, so the 413 is scripted.
        options: { flushInterval: 10_000 },
        arrange: (collector) => collector.script([Collector.Answer.status(413)])
      })
      assertAllDelivered(run)
      assert.deepStrictEqual(run.snapshot.requests.map((r) => [r.status, r.messages]), [[413, 10], [200, 5], [200, 5]])
      assert.strictEqual(run.snapshot.stats.duplicates, 0)
    }))

  it.live("413 on a single message is final: one error naming the status", () =>
    Effect.gen(function*() {
      const run = yield* driver.run({
        calls: 1,
        warmup: true,
        arrange: (collector) => collector.script([Collector.Answer.status(413)])
      })
      assertAllFailed(run, 413, /answered 413/)
    }))

  it.live("batches near the 500 KB limit are cut by size and never get a 413 from the real check", () =>
    Effect.gen(function*() {
      const filler = "y".repeat(31 * 1024) // about 31 KB each: 16 of them would pass 500 KB
      const run = yield* driver.run({
        calls: 40,
        params: (i) => ({ userId: "u", event: "near_limit", properties: { n: i, filler } }),
        options: { maxEventsInBatch: 100, flushInterval: 10_000 }
      })
      assertAllDelivered(run)
      assert.deepStrictEqual(Object.keys(answers(run)), ["200"])
      for (const request of run.snapshot.requests) assert.isAtMost(request.bytes, 500 * 1024)
      assert.isAtLeast(Math.max(...run.snapshot.requests.map((r) => r.messages)), 15)
    }))
})
