/**
 * Bounded resources, over real sockets on 127.0.0.1, through both APIs: during an outage the client holds at most
 * `maxQueueSize` messages, the ones it is sending included, and refuses the rest with `QueueFull`, never silently;
 * and the server never sees more than `maxConcurrentRequests` requests at once. Memory figures for 100 000 calls
 * against a dead collector come from `test/bench/dead-collector.ts`, not from a timed test.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import * as V8 from "node:v8"
import * as VM from "node:vm"
import type { EmittedError } from "../src/Analytics.ts"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import type { AnalyticsError } from "../src/AnalyticsError.ts"
import * as Collector from "../src/Collector.ts"
import { Analytics } from "../src/index.ts"

const writeKey = "wk_resources_5ecret"

const outage = {
  maxQueueSize: 200,
  maxEventsInBatch: 10,
  maxConcurrentRequests: 2,
  maxRetries: 2,
  flushInterval: 20,
  // Give up quickly at close: what is left then fails with FlushTimeout.
  closeTimeout: 300
} as const
const calls = 2_000

/** Every outcome reported for each call, by call index: exactly one is expected, whatever it is. */
type Outcomes = Array<Array<string>>

const assertBoundedAndAccountedFor = (outcomes: Outcomes, accepted: number) => {
  // maxQueueSize bounds everything accepted and not yet settled: queued, being batched, waiting or in flight.
  assert.strictEqual(accepted, outage.maxQueueSize, "the client filled up to maxQueueSize, and no further")
  const tally = new Map<string, number>()
  for (const [i, list] of outcomes.entries()) {
    assert.strictEqual(list.length, 1, `call ${i}: ${list.join(", ")}`)
    tally.set(list[0]!, (tally.get(list[0]!) ?? 0) + 1)
  }
  assert.strictEqual(tally.get("QueueFull"), calls - accepted, "every refused call was told QueueFull")
  assert.strictEqual(
    (tally.get("FlushTimeout") ?? 0) + (tally.get("TransportError") ?? 0),
    accepted,
    "every accepted call failed once, at the latest when close gave up"
  )
}

describe("bounded queue while the collector is down", () => {
  it.live(
    "Effect API: holds maxQueueSize messages in all, refuses the rest with QueueFull",
    () =>
      Effect.gen(function*() {
        const collector = yield* Collector.make({ writeKey })
        yield* collector.down
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          AnalyticsClient.layer({ writeKey, host: collector.url, ...outage }).pipe(
            Layer.provide(NodeHttpClient.layerUndici)
          ),
          scope
        )
        const client = Context.get(context, AnalyticsClient.AnalyticsClient)
        const outcomes: Outcomes = Array.from({ length: calls }, () => [])
        const indexOf = new Map<string, number>()
        const subscriber = yield* client.failures.pipe(
          Stream.runForEach((failure) =>
            Effect.sync(() => {
              for (const m of failure.messages) outcomes[indexOf.get(m.messageId)!]!.push(failure.error.reason._tag)
            })
          ),
          // In the test's scope, not the client's: the stream ends after close has reported its own failures.
          Effect.forkChild({ startImmediately: true })
        )
        let accepted = 0
        for (let i = 0; i < calls; i++) {
          const result = yield* Effect.result(client.track({ userId: "u", event: "outage", properties: { i } }))
          if (result._tag === "Success") {
            accepted++
            indexOf.set(result.success.messageId, i)
          } else {
            outcomes[i]!.push(result.failure.reason._tag)
          }
        }
        yield* Scope.close(scope, Exit.void)
        yield* Fiber.join(subscriber)
        assertBoundedAndAccountedFor(outcomes, accepted)
      }),
    { timeout: 20_000 }
  )

  it.live(
    "facade: holds maxQueueSize messages in all, refuses the rest with callback + queue_full",
    () =>
      Effect.gen(function*() {
        const collector = yield* Collector.make({ writeKey })
        yield* collector.down
        const analytics = new Analytics({ writeKey, host: collector.url, ...outage })
        const events: Array<EmittedError> = []
        analytics.on("error", (e) => events.push(e))
        const outcomes: Outcomes = Array.from({ length: calls }, () => [])
        for (let i = 0; i < calls; i++) {
          analytics.track({ userId: "u", event: "outage", properties: { i } }, (err) => {
            outcomes[i]!.push(err?.reason._tag ?? "delivered")
          })
        }
        // Refusals are reported right after the call returns, as any callback is; let them run.
        yield* Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        const refused = outcomes.filter((o) => o[0] === "QueueFull").length
        yield* Effect.promise(() => analytics.closeAndFlush())
        assertBoundedAndAccountedFor(outcomes, calls - refused)
        const codes = new Map<string, number>()
        for (const e of events) codes.set(e.code, (codes.get(e.code) ?? 0) + 1)
        assert.strictEqual(codes.get("queue_full"), refused, "one queue_full event per refused call")
        assert.strictEqual(
          codes.get("queue_full")! + (codes.get("flush_timeout") ?? 0) + (codes.get("delivery_failure") ?? 0),
          calls
        )
      }),
    { timeout: 20_000 }
  )

  it.live(
    "Effect API with overflow: \"suspend\": calls wait for room instead of failing, and all arrive",
    () =>
      Effect.gen(function*() {
        const collector = yield* Collector.make({ writeKey })
        const sent = yield* Effect.gen(function*() {
          const client = yield* AnalyticsClient.AnalyticsClient
          const ids: Array<string> = []
          for (let i = 0; i < 300; i++) ids.push((yield* client.track({ userId: "u", event: "backfill" })).messageId)
          return ids
        }).pipe(
          Effect.provide(
            AnalyticsClient.layer({
              writeKey,
              host: collector.url,
              maxQueueSize: 5,
              maxEventsInBatch: 5,
              overflow: "suspend",
              flushInterval: 10
            }).pipe(Layer.provide(NodeHttpClient.layerUndici))
          )
        )
        const received = yield* collector.messages
        assert.strictEqual(received.length, 300)
        assert.sameMembers(received.map((m) => m.messageId!), sent)
      }),
    { timeout: 20_000 }
  )
})

// -----------------------------------------------------------------------------
// Concurrency, counted at the server
// -----------------------------------------------------------------------------

interface Gate {
  readonly url: string
  /** The most requests the server held open at once. */
  readonly maxOpen: () => number
  /** How often the open requests reached `limit`. */
  readonly timesFull: () => number
  readonly messages: () => number
  readonly close: () => Promise<void>
}

/**
 * A server that holds every request: when `limit` are open it waits a little (room for a client that does not
 * respect the limit to send more) and answers them all; a slow timer answers whatever is left at the end.
 */
const gate = (limit: number): Promise<Gate> =>
  new Promise((resolve) => {
    const held: Array<Http.ServerResponse> = []
    let open = 0
    let maxOpen = 0
    let timesFull = 0
    let messages = 0
    const releaseAll = () => {
      for (const response of held.splice(0)) {
        open--
        response.writeHead(200, { "content-type": "application/json" }).end("{\"success\":true}")
      }
    }
    const server = Http.createServer((request, response) => {
      const chunks: Array<Buffer> = []
      request.on("data", (chunk: Buffer) => chunks.push(chunk))
      request.on("end", () => {
        messages += JSON.parse(Buffer.concat(chunks).toString("utf8")).batch.length
        open++
        maxOpen = Math.max(maxOpen, open)
        held.push(response)
        if (open === limit) {
          timesFull++
          setTimeout(releaseAll, 50)
        }
      })
    })
    const sweeper = setInterval(releaseAll, 250)
    server.listen(0, "127.0.0.1", () => {
      resolve({
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        maxOpen: () => maxOpen,
        timesFull: () => timesFull,
        messages: () => messages,
        close: () =>
          new Promise((done) => {
            clearInterval(sweeper)
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

const concurrency = { maxConcurrentRequests: 3, maxEventsInBatch: 5, flushInterval: 10 } as const
const concurrentCalls = 200

describe("in-flight requests never exceed maxConcurrentRequests (counted at the server)", () => {
  it.live("Effect API", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => gate(concurrency.maxConcurrentRequests)), (g) =>
        Effect.promise(() => g.close()))
      yield* Effect.gen(function*() {
        const client = yield* AnalyticsClient.AnalyticsClient
        for (let i = 0; i < concurrentCalls; i++) {
          yield* client.track({ userId: "u", event: "busy" })
        }
      }).pipe(
        Effect.provide(
          AnalyticsClient.layer({ writeKey, host: server.url, ...concurrency }).pipe(
            Layer.provide(NodeHttpClient.layerUndici)
          )
        )
      )
      assert.strictEqual(server.messages(), concurrentCalls)
      assert.strictEqual(server.maxOpen(), concurrency.maxConcurrentRequests)
      assert.isAtLeast(server.timesFull(), 2, "the limit was reached, and held")
    }), { timeout: 20_000 })

  it.live("facade", () =>
    Effect.gen(function*() {
      const server = yield* Effect.acquireRelease(Effect.promise(() => gate(concurrency.maxConcurrentRequests)), (g) =>
        Effect.promise(() => g.close()))
      const analytics = new Analytics({ writeKey, host: server.url, ...concurrency })
      const errors: Array<AnalyticsError | undefined> = []
      for (let i = 0; i < concurrentCalls; i++) {
        analytics.track({ userId: "u", event: "busy" }, (err) =>
          errors.push(err))
      }
      yield* Effect.promise(() => analytics.closeAndFlush())
      assert.strictEqual(errors.filter((e) => e !== undefined).length, 0)
      assert.strictEqual(server.messages(), concurrentCalls)
      assert.strictEqual(server.maxOpen(), concurrency.maxConcurrentRequests)
      assert.isAtLeast(server.timesFull(), 2, "the limit was reached, and held")
    }), { timeout: 20_000 })
})

// -----------------------------------------------------------------------------
// Memory held by refused calls
// -----------------------------------------------------------------------------

/** Node's gc(), without --expose-gc on the command line. */
const gc = (): () => void => {
  V8.setFlagsFromString("--expose-gc")
  return VM.runInNewContext("gc") as () => void
}

/** Heap still reachable right after a synchronous burst of calls, before any microtask has run. */
const retainedByBurst = (analytics: Analytics, count: number, callback?: () => void) => {
  const collect = gc()
  collect()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < count; i++) {
    // Each call's params are the caller's garbage once the call returns; 8 KB each makes holding them plain to see.
    analytics.track({ userId: "u", event: "burst", properties: { i, pad: `${i}`.padEnd(8_192, "x") } }, callback)
  }
  collect()
  return (process.memoryUsage().heapUsed - before) / count
}

describe("refused calls hold no memory beyond their report", () => {
  it.live("a burst refused with QueueFull keeps nothing when nobody listens, and never the caller's params", () =>
    Effect.gen(function*() {
      const collector = yield* Collector.make({ writeKey })
      yield* collector.down
      const analytics = new Analytics({ writeKey, host: collector.url, maxQueueSize: 10, closeTimeout: 100 })
      yield* Effect.addFinalizer(() => Effect.promise(() => analytics.closeAndFlush()))
      analytics.track({ userId: "u", event: "fill" }) // the first call goes out at once; the rest fill the queue
      for (let i = 0; i < 10; i++) analytics.track({ userId: "u", event: "fill" })
      // Nothing would observe these refusals: nothing may be kept for them (it was ~1.2 KB plus the params each,
      // until the burst ended: a loop of calls during an outage grew the heap by the calls, not by maxQueueSize).
      assert.isBelow(retainedByBurst(analytics, 10_000), 500)
      // With a callback, each refusal waits to be reported until the calling code yields: as an entry in one list,
      // sharing one error, never with the caller's params (8 KB each here). It was ~1 KB each, plus the params.
      let refused = 0
      assert.isBelow(retainedByBurst(analytics, 10_000, () => refused++), 200)
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      assert.strictEqual(refused, 10_000)
    }))
})
