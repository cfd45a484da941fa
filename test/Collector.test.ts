/**
 * The local collector: real sockets on 127.0.0.1, driven by the global `fetch`, so `it.live` throughout.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import * as Net from "node:net"
import * as Zlib from "node:zlib"
import * as Collector from "../src/Collector.ts"
import { MAX_BATCH_BYTES, MAX_MESSAGE_BYTES } from "../src/Message.ts"

const writeKey = "wk_collector_secret"
const authorization = (key: string) => `Basic ${Buffer.from(`${key}:`).toString("base64")}`

const message = (n: number, extra: Record<string, unknown> = {}) => ({
  type: "track",
  event: `e${n}`,
  userId: `u${n}`,
  messageId: `m${n}`,
  ...extra
})

interface PostOptions {
  readonly body?: string | Uint8Array
  /** `null` sends no Authorization header. */
  readonly key?: string | null
  readonly gzip?: boolean
  readonly headers?: Record<string, string>
  readonly signal?: AbortSignal
}

interface Reply {
  readonly status: number
  readonly headers: globalThis.Headers
  readonly body: string
}

const post = (url: string, batch: ReadonlyArray<unknown> | undefined, options: PostOptions = {}) =>
  Effect.tryPromise(async (): Promise<Reply> => {
    const json = options.body ?? JSON.stringify({ batch, sentAt: new Date().toISOString() })
    const body = options.gzip === true ? Zlib.gzipSync(json) : json
    const headers: Record<string, string> = { "content-type": "application/json", ...options.headers }
    const key = options.key === undefined ? writeKey : options.key
    if (key !== null) headers["authorization"] = authorization(key)
    if (options.gzip === true) headers["content-encoding"] = "gzip"
    const response = await fetch(`${url}/v1/batch`, {
      method: "POST",
      headers,
      body,
      ...(options.signal === undefined ? {} : { signal: options.signal })
    })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

/** The error `fetch` rejected with, and the code of its network cause when there is one. */
const networkError = (url: string, batch: ReadonlyArray<unknown>, options: PostOptions = {}) =>
  post(url, batch, options).pipe(
    Effect.flip,
    Effect.map((error) => {
      const cause = error.cause instanceof Error ? error.cause.cause : undefined
      const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
      return { error: error.cause, code }
    })
  )

/** Resolves with the rejection reason; fails the test if the promise resolves. */
const rejects = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(() => assert.fail("expected a rejection"), (error: unknown) => error)

const collector = (options: Partial<Collector.Options> = {}) => Collector.make({ writeKey, ...options })

describe("Collector", () => {
  it.live("answers 200 and records the messages, the request and the stats", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      assert.match(c.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      const reply = yield* post(c.url, [message(1), message(2, { type: "identify", traits: { plan: "pro" } })], {
        headers: { "x-retry-count": "0" }
      })
      assert.strictEqual(reply.status, 200)
      assert.deepStrictEqual(JSON.parse(reply.body), { success: true })
      const messages = yield* c.messages
      assert.deepStrictEqual(messages.map((m) => m.messageId), ["m1", "m2"])
      assert.deepStrictEqual(messages[1]?.["traits"], { plan: "pro" })
      const [request] = yield* c.requests
      assert.strictEqual(request?.status, 200)
      assert.strictEqual(request?.messages, 2)
      assert.strictEqual(request?.accepted, 2)
      assert.strictEqual(request?.gzip, false)
      assert.strictEqual(request?.retryCount, 0)
      assert.isAbove(request?.bytes ?? 0, 0)
      assert.strictEqual(request?.headers["authorization"], "<redacted>")
      assert.strictEqual(request?.headers["content-type"], "application/json")
      assert.notInclude(JSON.stringify(yield* c.requests), writeKey)
      const stats = yield* c.stats
      assert.deepStrictEqual(stats, {
        requests: 1,
        messages: 2,
        byType: { track: 1, identify: 1 },
        duplicates: 0,
        bytes: request?.bytes ?? -1,
        retries: 0,
        answers: { "200": 1 }
      })
    }))

  it.live("401 for a wrong or missing key, without echoing any key", () =>
    Effect.gen(function*() {
      const c = yield* Collector.make({ writeKey: Redacted.make(writeKey) })
      const wrong = yield* post(c.url, [message(1)], { key: "wk_wrong" })
      assert.strictEqual(wrong.status, 401)
      assert.match(wrong.body, /write key is wrong/)
      assert.notInclude(wrong.body, "wk_wrong")
      assert.notInclude(wrong.body, writeKey)
      const missing = yield* post(c.url, [message(1)], { key: null })
      assert.strictEqual(missing.status, 401)
      assert.match(missing.body, /missing Authorization/)
      // The key is the Basic user name with an empty password; a password makes it a different credential.
      const withPassword = yield* post(c.url, [message(1)], {
        key: null,
        headers: { authorization: `Basic ${Buffer.from(`${writeKey}:x`).toString("base64")}` }
      })
      assert.strictEqual(withPassword.status, 401)
      assert.deepStrictEqual(yield* c.messages, [])
      assert.deepStrictEqual((yield* c.stats).answers, { "401": 3 })
    }))

  it.live("413 over 500 KB, measured on the decompressed body", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      const filler = "x".repeat(30 * 1024)
      const batch = Array.from({ length: 17 }, (_, i) => message(i, { properties: { filler } }))
      assert.isAbove(JSON.stringify({ batch }).length, MAX_BATCH_BYTES)
      const plain = yield* post(c.url, batch)
      assert.strictEqual(plain.status, 413)
      const gzipped = yield* post(c.url, batch, { gzip: true })
      assert.strictEqual(gzipped.status, 413)
      const [first, second] = yield* c.requests
      assert.isBelow(second?.bytes ?? Infinity, 10 * 1024) // small on the wire, too big once inflated
      assert.strictEqual(first?.status, 413)
      // Just under the limit passes.
      const fits = yield* post(c.url, batch.slice(0, 16))
      assert.strictEqual(fits.status, 200)
    }))

  it.live("400 for a message over 32 KB, naming its index and size", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      const big = message(2, { properties: { filler: "é".repeat(16 * 1024) } }) // 2 UTF-8 bytes per char
      const size = Buffer.byteLength(JSON.stringify(big))
      const reply = yield* post(c.url, [message(1), big])
      assert.strictEqual(reply.status, 400)
      assert.include(reply.body, `message 1 is ${size} bytes`)
      assert.include(reply.body, `${MAX_MESSAGE_BYTES}`)
      assert.deepStrictEqual(yield* c.messages, [])
      const exact = message(3)
      const pad = MAX_MESSAGE_BYTES - Buffer.byteLength(JSON.stringify({ ...exact, properties: { p: "" } }))
      const atLimit = { ...exact, properties: { p: "a".repeat(pad) } }
      assert.strictEqual(Buffer.byteLength(JSON.stringify(atLimit)), MAX_MESSAGE_BYTES)
      assert.strictEqual((yield* post(c.url, [atLimit])).status, 200)
    }))

  it.live("400 for malformed JSON, a missing batch, or a message without a type", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      const malformed = yield* post(c.url, undefined, { body: "{\"batch\": [" })
      assert.strictEqual(malformed.status, 400)
      assert.match(malformed.body, /not valid JSON/)
      const noBatch = yield* post(c.url, undefined, { body: "{\"events\": []}" })
      assert.strictEqual(noBatch.status, 400)
      assert.match(noBatch.body, /no \\"batch\\" array/)
      const untyped = yield* post(c.url, [message(1), { event: "x" }])
      assert.strictEqual(untyped.status, 400)
      assert.match(untyped.body, /message 1/)
      const badGzip = yield* post(c.url, undefined, { body: "not gzip", headers: { "content-encoding": "gzip" } })
      assert.strictEqual(badGzip.status, 400)
      assert.deepStrictEqual((yield* c.stats).answers, { "400": 4 })
    }))

  it.live("accepts a gzip body and records it as gzip with its compressed size", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      const batch = Array.from({ length: 20 }, (_, i) => message(i))
      const reply = yield* post(c.url, batch, { gzip: true })
      assert.strictEqual(reply.status, 200)
      const [request] = yield* c.requests
      assert.strictEqual(request?.gzip, true)
      assert.isBelow(request?.bytes ?? Infinity, JSON.stringify({ batch }).length)
      assert.strictEqual((yield* c.messages).length, 20)
    }))

  it.live("de-duplicates by messageId and counts a retried batch as duplicates", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      const batch = [message(1), message(2)]
      assert.strictEqual((yield* post(c.url, batch)).status, 200)
      assert.strictEqual(
        (yield* post(c.url, [...batch, message(3)], { headers: { "x-retry-count": "1" } })).status,
        200
      )
      assert.deepStrictEqual((yield* c.messages).map((m) => m.messageId), ["m1", "m2", "m3"])
      const stats = yield* c.stats
      assert.strictEqual(stats.duplicates, 2)
      assert.strictEqual(stats.retries, 1)
      assert.strictEqual(stats.messages, 3)
      const requests = yield* c.requests
      assert.deepStrictEqual(requests.map((r) => [r.accepted, r.duplicates]), [[2, 0], [1, 2]])
      // An empty messageId is no id (the inspector flags it): such messages are never taken for copies of each other.
      yield* post(c.url, [message(4, { messageId: "" }), message(5, { messageId: "" })])
      assert.deepStrictEqual((yield* c.messages).map((m) => m.event), ["e1", "e2", "e3", "e4", "e5"])
      assert.strictEqual((yield* c.stats).duplicates, 2)
    }))

  it.live("waitFor wakes once enough distinct messages arrived, or a predicate holds", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      const three = yield* Effect.forkChild(c.waitFor(3), { startImmediately: true })
      const twoRequests = yield* Effect.forkChild(c.waitFor((s) => s.stats.requests >= 2), { startImmediately: true })
      yield* post(c.url, [message(1), message(2)])
      yield* post(c.url, [message(2)]) // a duplicate does not count
      const snapshot = yield* Fiber.join(twoRequests)
      assert.strictEqual(snapshot.stats.requests, 2)
      assert.isUndefined(three.pollUnsafe())
      yield* post(c.url, [message(3)])
      const done = yield* Fiber.join(three)
      assert.deepStrictEqual(done.messages.map((m) => m.messageId), ["m1", "m2", "m3"])
      // Already satisfied: returns at once.
      assert.strictEqual((yield* c.waitFor(1)).messages.length, 3)
    }))

  it.live("a scripted status with Retry-After and body reaches the client, then answers go back to normal", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      yield* c.script([
        Collector.Answer.status(429, { retryAfter: 3 }),
        Collector.Answer.status(503, { body: "maintenance" }),
        Collector.Answer.normal,
        Collector.Answer.status(500)
      ])
      const first = yield* post(c.url, [message(1)])
      assert.strictEqual(first.status, 429)
      assert.strictEqual(first.headers.get("retry-after"), "3")
      const second = yield* post(c.url, [message(1)])
      assert.strictEqual(second.status, 503)
      assert.strictEqual(second.body, "maintenance")
      assert.isNull(second.headers.get("retry-after"))
      assert.strictEqual((yield* post(c.url, [message(1)])).status, 200)
      assert.strictEqual((yield* post(c.url, [message(2)])).status, 500)
      assert.strictEqual((yield* post(c.url, [message(2)])).status, 200)
      const requests = yield* c.requests
      assert.deepStrictEqual(requests.map((r) => r.fault), ["status", "status", undefined, "status", undefined])
      assert.deepStrictEqual(requests.map((r) => r.messages), [1, 1, 1, 1, 1])
      assert.deepStrictEqual((yield* c.stats).answers, { "429": 1, "503": 1, "500": 1, "200": 2 })
      assert.deepStrictEqual((yield* c.messages).map((m) => m.messageId), ["m1", "m2"])
    }))

  it.live("latency delays the answer; recorded first, so a client timeout and retry gives duplicates", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      yield* c.script([Collector.Answer.latency("150 millis"), Collector.Answer.latency("5 seconds")])
      const started = performance.now()
      const slow = yield* post(c.url, [message(1)])
      assert.strictEqual(slow.status, 200)
      assert.isAtLeast(performance.now() - started, 140)
      const timedOut = yield* networkError(c.url, [message(2)], { signal: AbortSignal.timeout(100) })
      assert.strictEqual((timedOut.error as Error).name, "TimeoutError")
      const retry = yield* post(c.url, [message(2)], { headers: { "x-retry-count": "1" } })
      assert.strictEqual(retry.status, 200)
      const stats = yield* c.stats
      assert.strictEqual(stats.messages, 2)
      assert.strictEqual(stats.duplicates, 1)
      assert.deepStrictEqual((yield* c.requests).map((r) => r.fault), ["latency", "latency", undefined])
    }))

  it.effect("latency waits on the Effect Clock, so TestClock drives it", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      yield* c.script([Collector.Answer.latency("10 minutes")])
      const reply = yield* Effect.forkChild(post(c.url, [message(1)]), { startImmediately: true })
      yield* c.waitFor(1) // recorded, now sleeping
      assert.isUndefined(reply.pollUnsafe())
      yield* TestClock.adjust("10 minutes")
      assert.strictEqual((yield* Fiber.join(reply)).status, 200)
    }))

  it.live("a hang ends when the client gives up, or when the collector closes", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const c = yield* collector().pipe(Scope.provide(scope))
      yield* c.script([Collector.Answer.hang, Collector.Answer.hang])
      const aborted = yield* networkError(c.url, [message(1)], { signal: AbortSignal.timeout(100) })
      assert.strictEqual((aborted.error as Error).name, "TimeoutError")
      // The next hang is cut by closing the collector: the client sees the connection end, and close does not wait.
      const pending = yield* Effect.forkChild(networkError(c.url, [message(2)]), { startImmediately: true })
      yield* c.waitFor((s) => s.stats.requests === 2)
      yield* Scope.close(scope, Exit.void)
      const cut = yield* Fiber.join(pending)
      assert.instanceOf(cut.error, TypeError)
      assert.deepStrictEqual((yield* c.stats).answers, { hang: 2 })
      assert.deepStrictEqual(yield* c.messages, [])
    }))

  it.live("a dropped connection gives the client a network error", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      yield* c.script([Collector.Answer.drop])
      const dropped = yield* networkError(c.url, [message(1)])
      assert.instanceOf(dropped.error, TypeError) // fetch failed: the other side closed
      assert.strictEqual((yield* post(c.url, [message(1)])).status, 200)
      const requests = yield* c.requests
      assert.deepStrictEqual(requests.map((r) => [r.fault, r.status]), [["drop", undefined], [undefined, 200]])
      assert.deepStrictEqual((yield* c.stats).answers, { drop: 1, "200": 1 })
    }))

  it.live("a seeded failure rate is deterministic and close to the rate over 200 requests", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      const run = Effect.gen(function*() {
        yield* c.reset
        yield* c.failureRate({ rate: 0.2, status: 500, seed: "collector-test" })
        const statuses: Array<number> = []
        for (let i = 0; i < 200; i++) {
          statuses.push((yield* post(c.url, [message(i)])).status)
        }
        return statuses
      })
      const first = yield* run
      const second = yield* run
      assert.deepStrictEqual(first, second)
      const failed = first.filter((s) => s === 500).length
      assert.strictEqual(first.filter((s) => s === 200).length, 200 - failed)
      assert.isAtLeast(failed, 25)
      assert.isAtMost(failed, 55)
      const stats = yield* c.stats
      assert.strictEqual(stats.answers["500"], failed)
      assert.strictEqual(stats.messages, 200 - failed)
      // Scripted answers come first; rate 0 turns it off.
      yield* c.failureRate({ rate: 1, status: 502 })
      yield* c.script([Collector.Answer.normal])
      assert.strictEqual((yield* post(c.url, [message(1000)])).status, 200)
      assert.strictEqual((yield* post(c.url, [message(1001)])).status, 502)
      yield* c.failureRate({ rate: 0 })
      assert.strictEqual((yield* post(c.url, [message(1002)])).status, 200)
    }))

  it.live("down refuses connections, up serves again on the same port", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      // Down from the start, as in "the server is down when the client starts".
      yield* c.down
      assert.isFalse(yield* c.isUp)
      const refused = yield* networkError(c.url, [message(1)])
      assert.strictEqual(refused.code, "ECONNREFUSED")
      yield* c.up
      assert.isTrue(yield* c.isUp)
      assert.strictEqual((yield* post(c.url, [message(1)])).status, 200)
      // A second cycle also closes kept-alive connections.
      yield* c.down
      yield* c.down // idempotent
      assert.strictEqual((yield* networkError(c.url, [message(2)])).code, "ECONNREFUSED")
      yield* c.up
      yield* c.up
      assert.strictEqual((yield* post(c.url, [message(2)])).status, 200)
      assert.strictEqual((yield* c.stats).requests, 2) // refused connections never reach the collector
    }))

  it.live("up fails with ServeError while its port is taken, leaves nothing behind, and works once it is free", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      yield* c.down
      const squatter = Net.createServer()
      yield* Effect.callback<void>((resume) => void squatter.listen(c.port, "127.0.0.1", () => resume(Effect.void)))
      const warnings: Array<string> = []
      const onWarning = (warning: Error) => void warnings.push(warning.name)
      process.on("warning", onWarning)
      // More failed attempts than an emitter's default listener limit: a listener left by each would be reported.
      for (let attempt = 0; attempt < 12; attempt++) {
        const failed = yield* Effect.flip(c.up)
        assert.strictEqual(failed._tag, "ServeError")
      }
      yield* Effect.callback<void>((resume) => void squatter.close(() => resume(Effect.void)))
      yield* c.up
      assert.strictEqual((yield* post(c.url, [message(1)])).status, 200)
      yield* Effect.promise(() => new Promise((resolve) => setImmediate(resolve)))
      process.off("warning", onWarning)
      assert.deepStrictEqual(warnings, [])
    }))

  it.live("closing the scope frees the port, and port and path options are honoured", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const first = yield* collector().pipe(Scope.provide(scope))
      const port = first.port
      yield* Scope.close(scope, Exit.void)
      assert.strictEqual((yield* networkError(first.url, [message(1)])).code, "ECONNREFUSED")
      // Bind the same port again: the collector let it go.
      const again = yield* collector({ port, path: "/custom/batch" })
      assert.strictEqual(again.port, port)
      assert.strictEqual(again.url, first.url)
      const reply = yield* Effect.tryPromise(() =>
        fetch(`${again.url}/custom/batch`, {
          method: "POST",
          headers: { authorization: authorization(writeKey) },
          body: JSON.stringify({ batch: [message(1)] })
        })
      )
      assert.strictEqual(reply.status, 200)
      assert.strictEqual((yield* post(again.url, [message(2)])).status, 404) // /v1/batch is not served here
    }))

  it("start: the Promise starter for plain Node tests", async () => {
    const c = await Collector.start({ writeKey })
    const send = (n: number) =>
      fetch(`${c.url}/v1/batch`, {
        method: "POST",
        headers: { authorization: authorization(writeKey), "content-type": "application/json" },
        body: JSON.stringify({ batch: [message(n)] })
      })
    const waiting = c.waitFor(2, { timeout: 5_000 })
    assert.strictEqual((await send(1)).status, 200)
    c.script([Collector.Answer.status(500)])
    assert.strictEqual((await send(2)).status, 500)
    assert.strictEqual((await send(2)).status, 200)
    const snapshot = await waiting
    assert.deepStrictEqual(snapshot.messages.map((m) => m.messageId), ["m1", "m2"])
    assert.strictEqual(c.messages().length, 2)
    assert.strictEqual(c.stats().requests, 3)
    assert.strictEqual(c.requests()[1]?.status, 500)
    await c.down()
    await rejects(send(3))
    await c.up()
    assert.strictEqual((await send(3)).status, 200)
    c.reset()
    assert.strictEqual(c.stats().requests, 0)
    await c.close()
    await rejects(send(4))
    // The port is free again.
    const probe = Net.createServer()
    await new Promise<void>((resolve, reject) => {
      probe.once("error", reject)
      probe.listen(c.port, "127.0.0.1", resolve)
    })
    await new Promise((resolve) => probe.close(resolve))
  })

  it("start rejects when the port is taken", async () => {
    const first = await Collector.start({ writeKey })
    const error = await rejects(Collector.start({ writeKey, port: first.port }))
    assert.strictEqual((error as { _tag?: string })._tag, "ServeError")
    await first.close()
  })
})
