/**
 * CONTRACT §3 and §6: the request on the wire, the status classes, backoff, Retry-After, 413 splitting, and what
 * each attempt costs (a batch is compressed once; an answer is read up to a limit).
 */
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import { TestClock } from "effect/testing"
import { maxResponseBytes } from "../src/internal/transport.ts"
import { libraryName, libraryVersion } from "../src/internal/version.ts"
import { host, setup, writeKey } from "./utils/client.ts"
import * as MockHttp from "./utils/MockHttp.ts"

const track = (n: number) => ({ userId: `u${n}`, event: `e${n}` })

/** A Random whose every draw is 0.5, so full jitter yields exactly half the capped delay. */
const halfRandom = Effect.provideService(Random.Random, { nextDoubleUnsafe: () => 0.5, nextIntUnsafe: () => 42 })

/** Records the clock time of each request, answering with `statuses` in turn and 200 after. */
const timed = (times: Array<number>, ...statuses: Array<number | MockHttp.Answer>): MockHttp.Handler => {
  const answer = MockHttp.statuses(...statuses)
  return (request, index) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      times.push(now)
      return answer(request, index)
    })
}

describe("Transport", () => {
  it.effect("posts one JSON batch with Basic auth, User-Agent and sentAt", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 2, 3, 4, 5))
      const { client, next } = yield* setup()
      const accepted = yield* client.track({ ...track(1), properties: { plan: "pro" } })
      const request = yield* next
      assert.strictEqual(request.url, `${host}/v1/batch`)
      assert.strictEqual(request.headers["authorization"], `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`)
      assert.strictEqual(request.headers["user-agent"], `${libraryName}/${libraryVersion}`)
      assert.strictEqual(request.headers["content-type"], "application/json")
      assert.isUndefined(request.headers["x-retry-count"])
      assert.isUndefined(request.headers["traceparent"], "no trace headers leak to the API")
      assert.isUndefined(request.headers["b3"])
      assert.strictEqual(request.body.sentAt, "2026-01-02T03:04:05.000Z")
      assert.deepStrictEqual(request.body.batch, [JSON.parse(JSON.stringify(accepted))])
      const [message] = request.body.batch
      assert.strictEqual(message.type, "track")
      assert.strictEqual(message.timestamp, "2026-01-02T03:04:05.000Z")
      assert.deepStrictEqual(message.context.library, { name: libraryName, version: libraryVersion })
      assert.deepStrictEqual(message.integrations, {})
      assert.match(message.messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    }))

  it.effect("keeps a path prefix of host, and region \"eu\" picks the EU host", () =>
    Effect.gen(function*() {
      const proxied = yield* setup({ host: "https://proxy.test/cio/" })
      yield* proxied.client.track(track(1))
      assert.strictEqual((yield* proxied.next).url, "https://proxy.test/cio/v1/batch")
      const eu = yield* setup({ host: undefined, region: "eu" })
      yield* eu.client.track(track(1))
      assert.strictEqual((yield* eu.next).url, "https://cdp-eu.customer.io/v1/batch")
    }))

  it.effect("gzip compresses a batch once for all its attempts, each with the time of the attempt as sentAt", () =>
    Effect.gen(function*() {
      const Original = globalThis.CompressionStream
      let compressions = 0
      globalThis.CompressionStream = class extends Original {
        constructor(format: ConstructorParameters<typeof CompressionStream>[0]) {
          super(format)
          compressions++
        }
      }
      yield* Effect.addFinalizer(() => Effect.sync(() => globalThis.CompressionStream = Original))
      const { client, next } = yield* setup({ compression: "gzip" }, MockHttp.statuses(503, 503))
      yield* client.track(track(1))
      const sentAts = [(yield* next).body.sentAt]
      for (let i = 0; i < 2; i++) {
        yield* TestClock.adjust(60_000)
        sentAts.push((yield* next).body.sentAt)
      }
      assert.strictEqual(compressions, 1)
      assert.strictEqual(new Set(sentAts).size, 3, `a fresh sentAt per attempt: ${sentAts}`)
    }).pipe(halfRandom))

  it.effect("reads at most 64 KiB of an answer, and keeps 500 characters of it in the error", () =>
    Effect.gen(function*() {
      let pulled = 0
      const chunk = new Uint8Array(16 * 1024).fill(65)
      const { client, failures } = yield* setup({ maxRetries: 0 }, () =>
        Effect.succeed({
          status: 500,
          body: new ReadableStream<Uint8Array>({
            pull(controller) {
              // 50 MB if read to the end
              pulled += chunk.byteLength
              if (pulled > 50 * 1024 * 1024) controller.close()
              else controller.enqueue(chunk)
            }
          })
        }))
      yield* client.track(track(1))
      yield* client.flush
      assert.strictEqual(failures.length, 1)
      assert.isAtMost(pulled, maxResponseBytes + 2 * chunk.byteLength, "a stream may pull a chunk ahead")
      assert.include(failures[0].error.message, "A".repeat(500) + "…")
    }))

  it.effect("gzip compresses the body; strictMode sends X-Strict-Mode", () =>
    Effect.gen(function*() {
      const { client, next } = yield* setup({ compression: "gzip", strictMode: true })
      yield* client.track(track(1))
      const request = yield* next
      assert.strictEqual(request.headers["content-encoding"], "gzip")
      assert.strictEqual(request.headers["x-strict-mode"], "1")
      assert.strictEqual(request.body.batch[0].event, "e1")
    }))

  for (const status of [400, 401, 403, 404, 422, 501, 505]) {
    it.effect(`${status} is final: one request, the messages fail with HttpError ${status}`, () =>
      Effect.gen(function*() {
        const { client, failures, requests } = yield* setup({}, MockHttp.statuses(status))
        yield* client.track(track(1))
        yield* client.flush
        yield* TestClock.adjust(120_000)
        assert.strictEqual(requests.length, 1)
        assert.strictEqual(failures.length, 1)
        const reason = failures[0].error.reason
        assert.strictEqual(reason._tag, "HttpError")
        if (reason._tag === "HttpError") assert.strictEqual(reason.status, status)
        assert.isFalse(failures[0].error.isRetryable)
      }))
  }

  for (const answer of [408, 410, 429, 500, 502, 503, 504, { error: "ECONNRESET" }]) {
    const label = typeof answer === "number" ? String(answer) : "a network error"
    it.effect(`${label} is retried with X-Retry-Count and the same messageIds`, () =>
      Effect.gen(function*() {
        const { client, failures, requests, nextResponse } = yield* setup({}, MockHttp.statuses(answer, answer))
        yield* client.track(track(1))
        const flushing = yield* Effect.forkChild(client.flush, { startImmediately: true })
        yield* nextResponse // the first attempt failed and its backoff is running
        yield* TestClock.adjust(120_000)
        yield* Fiber.join(flushing)
        assert.strictEqual(requests.length, 3)
        assert.deepStrictEqual(requests.map((r) => r.headers["x-retry-count"]), [undefined, "1", "2"])
        const ids = requests.map((r) => r.body.batch[0].messageId)
        assert.strictEqual(new Set(ids).size, 1)
        assert.strictEqual(failures.length, 0)
      }))
  }

  it.effect("backs off exponentially from 500 ms with full jitter, capped at 60 s, for maxRetries retries", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const { client, failures, requests, nextResponse } = yield* setup(
        { maxRetries: 9 },
        timed(times, ...Array(20).fill(500))
      )
      yield* client.track(track(1))
      yield* nextResponse
      yield* TestClock.adjust(1_000_000)
      assert.strictEqual(requests.length, 10, "the first attempt and maxRetries retries")
      const delays = times.slice(1).map((t, i) => t - times[i])
      // Half of min(500 * 2^n, 60 000), because every random draw is 0.5.
      assert.deepStrictEqual(delays, [250, 500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000])
      assert.strictEqual(failures.length, 1)
      assert.strictEqual(failures[0].error.reason._tag, "HttpError")
    }).pipe(halfRandom))

  it.effect("Retry-After pauses the whole client and does not use up a retry", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const { caughtUp, client, failures, requests, next, nextResponse } = yield* setup(
        { maxRetries: 0, maxEventsInBatch: 1 },
        timed(times, 200, { status: 429, headers: { "retry-after": "7" } })
      )
      yield* client.track(track(0))
      yield* nextResponse
      yield* client.track(track(1))
      assert.strictEqual((yield* nextResponse).status, 429, "the 429 is read and the pause set")
      yield* client.track(track(2)) // a second batch during the pause waits too
      yield* caughtUp
      yield* TestClock.adjust(6_999)
      assert.strictEqual(requests.length, 2)
      yield* TestClock.adjust(1)
      yield* next
      yield* next
      assert.strictEqual(requests.length, 4)
      assert.deepStrictEqual(times, [0, 0, 7_000, 7_000])
      assert.strictEqual(failures.length, 0, "with maxRetries: 0 the batch still went through")
    }))

  it.effect("a pause extended while a batch waits out the first one holds that batch too", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const gate = yield* Deferred.make<void>()
      const { client, requests, next, nextResponse } = yield* setup(
        { maxEventsInBatch: 1, maxConcurrentRequests: 2, maxRetries: 0 },
        (_, index) =>
          Effect.gen(function*() {
            times.push(yield* Clock.currentTimeMillis)
            if (index === 1) return { status: 429, headers: { "retry-after": "2" } }
            if (index === 2) {
              yield* Deferred.await(gate)
              return { status: 429, headers: { "retry-after": "10" } }
            }
            return { status: 200 }
          })
      )
      yield* client.track(track(0))
      yield* nextResponse
      yield* client.track(track(1)) // answered 429: the client pauses until 2 s
      yield* client.track(track(2)) // held, then answered 429 asking for 10 s more
      yield* nextResponse
      yield* next
      yield* TestClock.adjust(1_000)
      yield* Deferred.succeed(gate, undefined)
      yield* nextResponse // at 1 s the pause is extended to 11 s
      yield* TestClock.adjust(1_000) // at 2 s batch 1 wakes up, sees the longer pause, and waits on
      assert.strictEqual(requests.length, 3, "nothing is sent before 11 s")
      yield* TestClock.adjust(9_000)
      yield* next
      yield* next
      assert.deepStrictEqual(times.slice(3), [11_000, 11_000])
    }))

  it.effect("Retry-After as an HTTP date, clamped to at most 300 s", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      yield* TestClock.setTime(Date.UTC(2026, 0, 1))
      const { client, next, nextResponse, requests } = yield* setup(
        {},
        timed(times, { status: 503, headers: { "retry-after": "Fri, 02 Jan 2026 00:00:00 GMT" } })
      )
      yield* client.track(track(1))
      yield* nextResponse
      yield* TestClock.adjust(299_999)
      assert.strictEqual(requests.length, 1)
      yield* TestClock.adjust(1)
      yield* next
      assert.deepStrictEqual(times, [Date.UTC(2026, 0, 1), Date.UTC(2026, 0, 1) + 300_000])
    }))

  it.effect("413 splits the batch in half and sends each half; a single message that gets 413 fails", () =>
    Effect.gen(function*() {
      const { client, failures, requests, next } = yield* setup(
        { maxEventsInBatch: 4 },
        (request) =>
          Effect.succeed({ status: request.body.batch.length > 1 || request.body.batch[0].event === "e4" ? 413 : 200 })
      )
      yield* client.track(track(0))
      yield* next
      for (let i = 1; i <= 4; i++) yield* client.track(track(i))
      yield* client.flush
      const sizes = requests.map((r) => r.body.batch.map((m: { event: string }) => m.event))
      assert.deepStrictEqual(sizes, [["e0"], ["e1", "e2", "e3", "e4"], ["e1", "e2"], ["e1"], ["e2"], ["e3", "e4"], [
        "e3"
      ], ["e4"]])
      assert.deepStrictEqual(failures.map((f) => f.messages.map((m) => m.event)), [["e4"]])
      assert.strictEqual(failures[0].error.reason._tag, "HttpError")
    }))

  it.effect("times out a hung attempt after httpRequestTimeout and retries it", () =>
    Effect.gen(function*() {
      const times: Array<number> = []
      const { client, next, requests } = yield* setup(
        { httpRequestTimeout: 3_000 },
        (request, index) =>
          index === 0 ? Effect.andThen(timed(times)(request, index), Effect.never) : timed(times)(request, index)
      )
      yield* client.track(track(1))
      yield* next
      yield* TestClock.adjust(2_999)
      assert.strictEqual(requests.length, 1)
      yield* TestClock.adjust(1)
      yield* TestClock.adjust(1_000)
      assert.strictEqual(requests.length, 2)
      assert.strictEqual(requests[1].headers["x-retry-count"], "1")
    }))

  it.effect("disable: nothing is sent, calls and flush complete normally", () =>
    Effect.gen(function*() {
      const { client, requests, failures, close } = yield* setup({ disable: true })
      yield* client.track(track(1))
      yield* client.flush
      yield* close
      assert.strictEqual(requests.length, 0)
      assert.strictEqual(failures.length, 0)
    }))

  it.effect("a defect in the HttpClient fails the batch with a TransportError that never shows the key", () =>
    Effect.gen(function*() {
      const { client, failures } = yield* setup({}, () => Effect.die(new Error(`broken layer holding ${writeKey}`)))
      yield* client.track(track(1))
      yield* client.flush
      assert.strictEqual(failures.length, 1)
      assert.strictEqual(failures[0].error.reason._tag, "TransportError")
      assert.include(failures[0].error.message, "broken layer holding <redacted>")
      assert.notInclude(failures[0].error.message, writeKey)
    }))

  it.effect("the write key never shows in an error, even when the server echoes it", () =>
    Effect.gen(function*() {
      const auth = `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`
      const { client, failures } = yield* setup({}, () =>
        Effect.succeed({ status: 401, body: `bad key ${writeKey} (${auth})` }))
      yield* client.track(track(1))
      yield* client.flush
      assert.strictEqual(failures.length, 1)
      const everything = [failures[0].error.message, String(failures[0].error), JSON.stringify(failures[0].error)]
      for (const text of everything) {
        assert.notInclude(text, writeKey)
        assert.notInclude(text, auth)
      }
      assert.include(failures[0].error.message, "write key is wrong")
    }))
})
