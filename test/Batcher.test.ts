/**
 * CONTRACT §5 and §7: batching by count, age and bytes, the 32 KB limit, the concurrency cap, flush, close.
 * Every wait is driven by TestClock; requests are awaited through the mock's `next`, never by sleeping.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import { TestClock } from "effect/testing"
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES } from "../src/Message.ts"
import { isDone, settle, setup } from "./utils/client.ts"
import * as MockHttp from "./utils/MockHttp.ts"

const track = (n: number) => ({ userId: `u${n}`, event: `e${n}` })
const events = (request: MockHttp.RecordedRequest) => request.body.batch.map((m) => m.event)

describe("Batcher", () => {
  it.effect("sends the very first call at once", () =>
    Effect.gen(function*() {
      const { client, next, requests } = yield* setup()
      yield* client.track(track(1))
      const first = yield* next
      assert.deepStrictEqual(events(first), ["e1"])
      yield* client.track(track(2))
      yield* settle
      assert.strictEqual(requests.length, 1, "later calls are batched")
    }))

  it.effect("sends a batch when it holds maxEventsInBatch messages, without waiting", () =>
    Effect.gen(function*() {
      const { client, next, requests } = yield* setup({ maxEventsInBatch: 5 })
      yield* client.track(track(0))
      yield* next
      for (let i = 1; i <= 12; i++) yield* client.track(track(i))
      assert.deepStrictEqual(events(yield* next), ["e1", "e2", "e3", "e4", "e5"])
      assert.deepStrictEqual(events(yield* next), ["e6", "e7", "e8", "e9", "e10"])
      yield* settle
      assert.strictEqual(requests.length, 3, "the last two wait for the age trigger")
    }))

  it.effect("sends a partial batch once its oldest message has waited flushInterval", () =>
    Effect.gen(function*() {
      const { client, next, requests } = yield* setup({ flushInterval: 10_000 })
      yield* client.track(track(0))
      yield* next
      yield* client.track(track(1))
      yield* TestClock.adjust(4_000)
      yield* client.track(track(2))
      yield* TestClock.adjust(5_999)
      assert.strictEqual(requests.length, 1)
      yield* TestClock.adjust(1)
      assert.deepStrictEqual(events(yield* next), ["e1", "e2"], "counted from the oldest message, not the newest")
    }))

  it.effect("keeps every request body within 500 KB, in call order", () =>
    Effect.gen(function*() {
      const { client, next, requests } = yield* setup({ maxEventsInBatch: 100 })
      const big = "x".repeat(30_000)
      yield* client.track(track(0))
      yield* next
      for (let i = 1; i <= 40; i++) yield* client.track({ ...track(i), properties: { big } })
      yield* TestClock.adjust(10_000)
      yield* settle
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
      const result = yield* Effect.result(client.track({ ...track(1), properties: { blob: "x".repeat(33_000) } }))
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
      const { client, requests } = yield* setup(
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
      yield* settle
      assert.strictEqual(requests.length, 2)
      yield* Deferred.succeed(gate, undefined)
      yield* client.flush
      assert.strictEqual(requests.length, 6)
      assert.strictEqual(peak, 2)
    }))

  it.effect("flush completes only when everything queued before it is settled, and the client stays open", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { client, requests, next } = yield* setup(
        {},
        (_, index) => index === 1 ? Effect.as(Deferred.await(gate), { status: 200 }) : Effect.succeed({ status: 200 })
      )
      yield* client.track(track(0))
      yield* next
      yield* client.track(track(1))
      yield* client.track(track(2))
      const flushing = yield* Effect.forkChild(client.flush, { startImmediately: true })
      const sharing = yield* Effect.forkChild(client.flush, { startImmediately: true })
      yield* settle
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

  it.effect("close sends what is queued and waits for in-flight requests and their retries", () =>
    Effect.gen(function*() {
      const { client, requests, next, closeInBackground } = yield* setup({}, MockHttp.statuses(200, 503, 503))
      yield* client.track(track(0))
      yield* next
      yield* client.track(track(1))
      yield* client.track(track(2))
      const closing = yield* closeInBackground
      yield* settle
      assert.strictEqual(requests.length, 2, "close does not wait for the age trigger")
      assert.isFalse(yield* isDone(closing), "close waits for the retries of the failing batch")
      yield* TestClock.adjust(60_000)
      yield* Fiber.join(closing)
      assert.strictEqual(requests.length, 4)
      assert.deepStrictEqual(events(requests[3]), ["e1", "e2"])
    }))

  it.effect("close fails what is left with FlushTimeout when the close timeout passes", () =>
    Effect.gen(function*() {
      const { client, requests, failures, closeInBackground } = yield* setup(
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
    }))

  it.effect("settles each message once: half of a split batch delivered, the other half abandoned at close", () =>
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

  it.effect("refuses calls with QueueFull past maxQueueSize, never silently", () =>
    Effect.gen(function*() {
      const { client } = yield* setup(
        { maxQueueSize: 3, maxEventsInBatch: 1, maxConcurrentRequests: 1 },
        () => Effect.never
      )
      const outcomes: Array<string> = []
      for (let i = 0; i < 8; i++) {
        const result = yield* Effect.result(client.track(track(i)))
        outcomes.push(Result.isSuccess(result) ? "ok" : result.failure.reason._tag)
        yield* settle
      }
      // One in flight, one waiting for the request slot, three queued.
      assert.deepStrictEqual(outcomes, ["ok", "ok", "ok", "ok", "ok", "QueueFull", "QueueFull", "QueueFull"])
    }))

  it.effect("with overflow: \"suspend\", a call waits for room instead of failing", () =>
    Effect.gen(function*() {
      const gate = yield* Deferred.make<void>()
      const { client, requests } = yield* setup(
        { maxQueueSize: 1, maxEventsInBatch: 1, maxConcurrentRequests: 1, overflow: "suspend" },
        () => Effect.as(Deferred.await(gate), { status: 200 })
      )
      const producer = yield* Effect.forkChild(
        Effect.forEach([0, 1, 2, 3, 4], (i) => client.track(track(i)), { discard: true }),
        { startImmediately: true }
      )
      yield* settle
      assert.isFalse(yield* isDone(producer))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(producer)
      yield* client.flush
      assert.strictEqual(requests.length, 5)
    }))
})
