/**
 * CONTRACT §5 and §7 through the engine: batching by count, age and bytes, the 32 KB limit, the concurrency cap,
 * `maxQueueSize`, flush and close; and close never forgets a message, whatever held it when the timeout passed.
 * Every wait is explicit: TestClock, the mock's `next`, the engine's `caughtUp`, or a `Deferred` in a handler.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import { TestClock } from "effect/testing"
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES } from "../src/Message.ts"
import { isDone, setup } from "./utils/client.ts"
import * as MockHttp from "./utils/MockHttp.ts"

const track = (n: number, extra: Record<string, unknown> = {}) => ({ userId: `u${n}`, event: `e${n}`, ...extra })
const events = (request: MockHttp.RecordedRequest) => request.body.batch.map((m) => m.event)

describe("engine: batching", () => {
  it.effect("sends the very first call at once", () =>
    Effect.gen(function*() {
      const { caughtUp, client, next, requests } = yield* setup()
      yield* client.track(track(1))
      const first = yield* next
      assert.deepStrictEqual(events(first), ["e1"])
      yield* client.track(track(2))
      yield* caughtUp
      assert.strictEqual(requests.length, 1, "later calls are batched")
    }))

  it.effect("sends a batch when it holds maxEventsInBatch messages, without waiting", () =>
    Effect.gen(function*() {
      const { caughtUp, client, next, requests } = yield* setup({ maxEventsInBatch: 5 })
      yield* client.track(track(0))
      yield* next
      for (let i = 1; i <= 12; i++) yield* client.track(track(i))
      assert.deepStrictEqual(events(yield* next), ["e1", "e2", "e3", "e4", "e5"])
      assert.deepStrictEqual(events(yield* next), ["e6", "e7", "e8", "e9", "e10"])
      yield* caughtUp
      assert.strictEqual(requests.length, 3, "the last two wait for the age trigger")
    }))

  it.effect("sends a partial batch once its oldest message has waited flushInterval", () =>
    Effect.gen(function*() {
      const { caughtUp, client, next, requests } = yield* setup({ flushInterval: 10_000 })
      yield* client.track(track(0))
      yield* next
      yield* client.track(track(1))
      yield* caughtUp
      yield* TestClock.adjust(4_000)
      yield* client.track(track(2))
      yield* caughtUp
      yield* TestClock.adjust(5_999)
      assert.strictEqual(requests.length, 1)
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(events(yield* next), ["e1", "e2"], "counted from the oldest message, not the newest")
    }))

  it.effect("keeps every request body within 500 KB, in call order", () =>
    Effect.gen(function*() {
      const { caughtUp, client, next, requests } = yield* setup({ maxEventsInBatch: 100 })
      const big = "x".repeat(30_000)
      yield* client.track(track(0))
      yield* next
      for (let i = 1; i <= 40; i++) yield* client.track(track(i, { properties: { big } }))
      yield* caughtUp
      yield* TestClock.adjust(10_000)
      const sent = requests.slice(1)
      assert.isAbove(sent.length, 2)
      for (const request of sent) assert.isAtMost(request.bytes, MAX_BATCH_BYTES)
      // Full batches stop only because the next message would not fit.
      assert.isAbove(sent[0].bytes + 30_100, MAX_BATCH_BYTES)
      assert.deepStrictEqual(sent.flatMap(events), Array.from({ length: 40 }, (_, i) => `e${i + 1}`))
    }))

  it.effect("refuses a message over 32 KB, naming its size and the limit, and keeps the others", () =>
    Effect.gen(function*() {
      const { client, next } = yield* setup()
      const result = yield* Effect.result(client.track(track(1, { properties: { blob: "x".repeat(33_000) } })))
      assert.isTrue(Result.isFailure(result))
      if (Result.isFailure(result)) {
        const reason = result.failure.reason
        assert.strictEqual(reason._tag, "MessageTooLarge")
        if (reason._tag === "MessageTooLarge") {
          assert.isAbove(reason.size, MAX_MESSAGE_BYTES)
          assert.strictEqual(reason.limit, MAX_MESSAGE_BYTES)
        }
        assert.include(result.failure.message, String(MAX_MESSAGE_BYTES))
      }
      yield* client.track(track(2))
      assert.deepStrictEqual(events(yield* next), ["e2"])
    }))

  it.effect("never has more than maxConcurrentRequests requests in flight", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      let inFlight = 0
      let peak = 0
      const { caughtUp, client, requests } = yield* setup(
        { maxEventsInBatch: 1, maxConcurrentRequests: 2 },
        () =>
          Effect.gen(function*() {
            peak = Math.max(peak, ++inFlight)
            yield* Deferred.await(gate)
            inFlight--
            return { status: 200 }
          })
      )
      for (let i = 0; i < 6; i++) yield* client.track(track(i))
      yield* caughtUp
      assert.strictEqual(requests.length, 2)
      yield* Deferred.succeed(gate, undefined)
      yield* client.flush
      assert.strictEqual(requests.length, 6)
      assert.strictEqual(peak, 2)
    }))
})

describe("engine: maxQueueSize", () => {
  it.effect("bounds everything accepted and not yet settled: queued, batched, waiting for a slot, in flight", () =>
    Effect.gen(function*() {
      const { caughtUp, client, engine } = yield* setup(
        { maxQueueSize: 3, maxEventsInBatch: 1, maxConcurrentRequests: 1 },
        () => Effect.never
      )
      const outcomes: Array<string> = []
      for (let i = 0; i < 8; i++) {
        const result = yield* Effect.result(client.track(track(i)))
        outcomes.push(Result.isSuccess(result) ? "ok" : result.failure.reason._tag)
        yield* caughtUp
      }
      // One in flight, one waiting for the request slot, one queued: three in all.
      assert.deepStrictEqual(outcomes, [
        "ok",
        "ok",
        "ok",
        "QueueFull",
        "QueueFull",
        "QueueFull",
        "QueueFull",
        "QueueFull"
      ])
      assert.strictEqual(engine.pending(), 3)
      assert.strictEqual(engine.inFlight(), 1)
    }))

  it.effect("with overflow: \"suspend\", a call waits for room instead of failing", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { caughtUp, client, requests } = yield* setup(
        { maxQueueSize: 1, maxEventsInBatch: 1, maxConcurrentRequests: 1, overflow: "suspend" },
        () => Effect.as(Deferred.await(gate), { status: 200 })
      )
      const producer = yield* Effect.forkChild(
        Effect.forEach([0, 1, 2, 3, 4], (i) => client.track(track(i)), { discard: true }),
        { startImmediately: true }
      )
      yield* caughtUp
      assert.isFalse(yield* isDone(producer))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(producer)
      yield* client.flush
      assert.strictEqual(requests.length, 5)
    }))

  it.effect("with overflow: \"suspend\", a call still waiting when the client closes fails with ClientClosed", () =>
    Effect.gen(function*() {
      const { caughtUp, client, outcomes, closeInBackground } = yield* setup(
        { maxQueueSize: 1, maxEventsInBatch: 1, maxConcurrentRequests: 1, overflow: "suspend", closeTimeout: 1_000 },
        () => Effect.never
      )
      const results: Array<Result.Result<string, string>> = []
      const producer = yield* Effect.forkChild(
        Effect.forEach([0, 1, 2, 3], (i) =>
          client.track(track(i)).pipe(
            Effect.map((m) => m.messageId),
            Effect.mapError((e) => e.reason._tag),
            Effect.result,
            Effect.map((r) => results.push(r))
          ), { discard: true }),
        { startImmediately: true }
      )
      yield* caughtUp
      const closing = yield* closeInBackground
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(closing)
      yield* Fiber.join(producer)
      // The first is accepted (and abandoned at the timeout); the second was waiting for room, the rest never ran.
      assert.deepStrictEqual(results.map((r) => Result.isSuccess(r) ? outcomes.get(r.success) : r.failure), [
        ["FlushTimeout"],
        "ClientClosed",
        "ClientClosed",
        "ClientClosed"
      ])
    }))
})

describe("engine: flush", () => {
  it.effect("completes only when everything queued before it is settled, and the client stays open", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { caughtUp, client, requests, next } = yield* setup(
        {},
        (_, index) => index === 1 ? Effect.as(Deferred.await(gate), { status: 200 }) : Effect.succeed({ status: 200 })
      )
      yield* client.track(track(0))
      yield* next
      yield* client.track(track(1))
      yield* client.track(track(2))
      const flushing = yield* Effect.forkChild(client.flush, { startImmediately: true })
      const sharing = yield* Effect.forkChild(client.flush, { startImmediately: true })
      yield* next
      yield* caughtUp
      assert.strictEqual(requests.length, 2, "flush sends the partial batch at once")
      assert.isFalse(yield* isDone(flushing), "flush waits for the request in flight")
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(flushing)
      yield* Fiber.join(sharing)
      assert.strictEqual(requests.length, 2, "concurrent flushes share the work")
      yield* client.track(track(3))
      yield* client.flush
      assert.deepStrictEqual(events(requests[1]), ["e1", "e2"])
      assert.deepStrictEqual(events(requests[2]), ["e3"])
    }))

  it.effect("with nothing pending completes at once, and sends nothing", () =>
    Effect.gen(function*() {
      const { client, requests } = yield* setup()
      yield* client.flush
      assert.strictEqual(requests.length, 0)
    }))

  it.effect("a flush waiting for messages a full client holds completes when the client closes", () =>
    Effect.gen(function*() {
      const { caughtUp, client, closeInBackground } = yield* setup(
        { maxQueueSize: 2, maxEventsInBatch: 1, maxConcurrentRequests: 1, closeTimeout: 1_000 },
        () => Effect.never
      )
      for (let i = 0; i < 6; i++) yield* Effect.result(client.track(track(i)))
      yield* caughtUp
      const flushing = yield* Effect.forkChild(client.flush, { startImmediately: true })
      const closing = yield* closeInBackground
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(closing)
      yield* Fiber.join(flushing)
    }))
})

describe("engine: close", () => {
  it.effect("sends what is queued and waits for in-flight requests and their retries", () =>
    Effect.gen(function*() {
      const { caughtUp, client, requests, next, closeInBackground } = yield* setup({}, MockHttp.statuses(200, 503, 503))
      yield* client.track(track(0))
      yield* next
      yield* client.track(track(1))
      yield* client.track(track(2))
      const closing = yield* closeInBackground
      yield* next
      yield* caughtUp
      assert.strictEqual(requests.length, 2, "close does not wait for the age trigger")
      assert.isFalse(yield* isDone(closing), "close waits for the retries of the failing batch")
      yield* TestClock.adjust(60_000)
      yield* Fiber.join(closing)
      assert.strictEqual(requests.length, 4)
      assert.deepStrictEqual(events(requests[3]), ["e1", "e2"])
    }))

  it.effect("fails what is left with FlushTimeout when the close timeout passes", () =>
    Effect.gen(function*() {
      const { client, requests, failures, closeInBackground, engine } = yield* setup(
        { closeTimeout: 5_000, maxEventsInBatch: 1, maxConcurrentRequests: 1 },
        () => Effect.never
      )
      for (let i = 0; i < 4; i++) yield* client.track(track(i))
      const closing = yield* closeInBackground
      yield* TestClock.adjust(4_999)
      assert.isFalse(yield* isDone(closing))
      yield* TestClock.adjust(1)
      yield* Fiber.join(closing)
      assert.strictEqual(requests.length, 1)
      const failed = failures.flatMap((f) => f.messages.map((m) => m.event))
      assert.sameMembers(failed, ["e0", "e1", "e2", "e3"], "in flight, waiting for a slot and queued: all reported")
      for (const failure of failures) {
        assert.strictEqual(failure.error.reason._tag, "FlushTimeout")
        assert.isFalse(failure.error.isRetryable)
      }
      assert.deepStrictEqual([engine.pending(), engine.queued(), engine.inFlight()], [0, 0, 0])
    }))

  // Messages the consumer took from the queue but had not yet handed to a request were held only by its loop: when
  // it waited for a request slot and the close timeout passed, they got no outcome at all.
  it.effect("abandons what the consumer held mid-chunk while waiting for a slot (a byte cut)", () =>
    Effect.gen(function*() {
      const { caughtUp, client, outcomes, closeInBackground } = yield* setup(
        { maxConcurrentRequests: 1, maxEventsInBatch: 100, closeTimeout: 1_000 },
        () => Effect.never
      )
      const ids = [(yield* client.track(track(0))).messageId]
      yield* caughtUp // request 0 holds the only slot
      const big = "x".repeat(30_000)
      for (let i = 1; i <= 20; i++) ids.push((yield* client.track(track(i, { properties: { big } }))).messageId)
      yield* caughtUp // 16 fit in 500 KB; the consumer waits for the slot holding those and 4 more
      const closing = yield* closeInBackground
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(closing)
      for (const id of ids) assert.deepStrictEqual(outcomes.get(id), ["FlushTimeout"], id)
    }))

  it.effect("abandons what the consumer held mid-chunk while waiting for a slot (flush markers)", () =>
    Effect.gen(function*() {
      const { caughtUp, client, outcomes, closeInBackground } = yield* setup(
        { maxConcurrentRequests: 1, maxEventsInBatch: 100, closeTimeout: 1_000 },
        () => Effect.never
      )
      const ids = [(yield* client.track(track(0))).messageId]
      yield* caughtUp
      const flushes: Array<Fiber.Fiber<void>> = []
      for (let i = 1; i <= 12; i++) {
        ids.push((yield* client.track(track(i))).messageId)
        if (i % 4 === 0) flushes.push(yield* Effect.forkChild(client.flush, { startImmediately: true }))
      }
      yield* caughtUp
      const closing = yield* closeInBackground
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(closing)
      for (const flush of flushes) yield* Fiber.join(flush)
      for (const id of ids) assert.deepStrictEqual(outcomes.get(id), ["FlushTimeout"], id)
    }))

  it.effect("settles each message once: half of a split batch delivered, the other half abandoned", () =>
    Effect.gen(function*() {
      const { client, requests, next, failures, closeInBackground } = yield* setup(
        { closeTimeout: 1_000, maxEventsInBatch: 2 },
        (request) =>
          request.body.batch.length > 1
            ? Effect.succeed({ status: 413 })
            : request.body.batch[0].event === "e2"
            ? Effect.never
            : Effect.succeed({ status: 200 })
      )
      yield* client.track(track(0))
      yield* next
      yield* client.track(track(1))
      yield* client.track(track(2))
      const closing = yield* closeInBackground
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(closing)
      assert.deepStrictEqual(requests.map(events), [["e0"], ["e1", "e2"], ["e1"], ["e2"]])
      assert.deepStrictEqual(failures.map((f) => [f.error.reason._tag, f.messages.map((m) => m.event)]), [
        ["FlushTimeout", ["e2"]]
      ])
    }))

  it.effect("a defect in the HttpClient fails the batch instead of stranding it", () =>
    Effect.gen(function*() {
      const { client, failures } = yield* setup({}, () => Effect.die(new Error("broken transport layer")))
      yield* client.track(track(1))
      yield* client.flush
      assert.strictEqual(failures.length, 1)
      assert.strictEqual(failures[0].error.reason._tag, "TransportError")
      assert.include(failures[0].error.message, "broken transport layer")
    }))

  it.effect("a call after close fails with ClientClosed and sends nothing", () =>
    Effect.gen(function*() {
      const { client, requests, close } = yield* setup()
      yield* close
      const error = yield* Effect.flip(client.track(track(1)))
      assert.strictEqual(error.reason._tag, "ClientClosed")
      yield* client.flush
      assert.strictEqual(requests.length, 0)
    }))

  it.effect("a call with invalid params after close still fails with the ValidationError", () =>
    Effect.gen(function*() {
      const { client, close } = yield* setup()
      yield* close
      const error = yield* Effect.flip(client.track({ userId: "u" }))
      assert.strictEqual(error.reason._tag, "ValidationError")
    }))
})

describe("engine: receipts", () => {
  it.effect("a receipt's waiter that throws is logged, and the others are told all the same", () =>
    Effect.gen(function*() {
      const { engine, logs } = yield* setup()
      const accepted = yield* engine.acceptEffect("track", track(1))
      const told: Array<unknown> = []
      accepted.settlement.watch(() => {
        throw new Error("a broken waiter")
      })
      accepted.settlement.watch((outcome) => void told.push(outcome))
      yield* engine.flush
      assert.deepStrictEqual(told, [null])
      assert.isTrue(logs.some((line) => line.message.includes("a broken waiter")))
    }))
})
