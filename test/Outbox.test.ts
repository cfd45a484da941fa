/**
 * The engine with a file outbox: a call is on disk when it returns; what close gives up on is kept and sent first by
 * the next client on the directory, with its original messageId; messages past `maxQueueSize` wait on disk, in
 * order, callbacks and flushes included; `maxBytes` refuses (or, with `overflow: "suspend"`, waits); final failures
 * can be kept as dead letters; one client per directory. TestClock drives every wait.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Result from "effect/Result"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Analytics } from "../src/Analytics.ts"
import type { AnalyticsError } from "../src/AnalyticsError.ts"
import * as Outbox from "../src/Outbox.ts"
import { isDone, setup } from "./utils/client.ts"
import * as MockHttp from "./utils/MockHttp.ts"

const temporary = () => fs.mkdtempSync(path.join(os.tmpdir(), "outbox-"))
const track = (n: number) => ({ userId: `u${n}`, event: `e${n}` })
const events = (request: MockHttp.RecordedRequest) => request.body.batch.map((m) => m.event)
const ids = (request: MockHttp.RecordedRequest) => request.body.batch.map((m) => m.messageId)
const segmentText = (dir: string) =>
  fs.readdirSync(dir).filter((name) => name.startsWith("segment-")).map((name) =>
    fs.readFileSync(path.join(dir, name), "latin1")
  ).join("")

/** Holds every request until the test lets it go. */
const gated = Effect.gen(function*() {
  const open = yield* Deferred.make<void>()
  const handler: MockHttp.Handler = () => Effect.as(Deferred.await(open), { status: 200 })
  return { handler, release: Deferred.succeed(open, undefined) }
})

describe("engine with a file outbox", () => {
  it.effect("a call has written its message to the outbox when it returns", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const { handler } = yield* gated
      const { client } = yield* setup({}, handler, { path: dir })
      const message = yield* client.track(track(1))
      assert.include(segmentText(dir), message.messageId)
    }))

  it.effect("a delivered message leaves the outbox", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const first = yield* setup({}, MockHttp.ok, { path: dir })
      yield* first.client.track(track(1))
      yield* first.next
      yield* first.close
      const second = yield* setup({}, MockHttp.ok, { path: dir })
      yield* second.client.flush
      assert.strictEqual(second.requests.length, 0, "nothing to replay")
      yield* second.close
      assert.deepStrictEqual(fs.readdirSync(dir).filter((name) => name.startsWith("segment-")), [])
    }))

  it.effect("what close gave up on is kept, and the next client sends it first with the same messageIds", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const first = yield* setup({ closeTimeout: 1_000 }, () => Effect.never, { path: dir })
      const kept = [yield* first.client.track(track(1)), yield* first.client.track(track(2))]
      yield* first.next
      const closing = yield* first.closeInBackground
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(closing)
      assert.strictEqual(first.failures.length, 1)
      const reason = first.failures[0]!.error.reason
      assert.strictEqual(reason._tag, "FlushTimeout")
      assert.isTrue(reason._tag === "FlushTimeout" && reason.kept)
      assert.include(first.failures[0]!.error.message, "kept in the outbox")

      const second = yield* setup({}, MockHttp.ok, { path: dir })
      yield* second.client.track(track(3))
      yield* second.client.flush
      const sent = second.requests.flatMap(ids)
      assert.deepStrictEqual(sent.slice(0, 2), kept.map((m) => m.messageId), "replayed first, same ids")
      assert.deepStrictEqual(second.requests.flatMap(events), ["e1", "e2", "e3"])
      assert.isTrue(second.logs.some((line) => line.message.includes("holds 2 messages not yet delivered")))
    }))

  it.effect("past maxQueueSize, calls wait on disk and are sent in order, each callback told once", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const { engine, requests } = yield* setup({ maxQueueSize: 5, maxEventsInBatch: 3 }, MockHttp.ok, {
        path: dir
      })
      const told: Array<string> = []
      for (let i = 1; i <= 20; i++) {
        const accepted = engine.accept("track", track(i), (error, envelope) => {
          told.push(`${envelope.message.event}:${error === undefined ? "ok" : error.reason._tag}`)
        })
        assert.isTrue(Result.isSuccess(accepted), `call ${i} is accepted`)
      }
      assert.strictEqual(engine.pending(), 20)
      yield* engine.flush
      assert.deepStrictEqual(requests.flatMap(events), Array.from({ length: 20 }, (_, i) => `e${i + 1}`))
      assert.deepStrictEqual(told, Array.from({ length: 20 }, (_, i) => `e${i + 1}:ok`))
      assert.strictEqual(engine.pending(), 0)
    }))

  it.effect("refuses a call once the outbox holds maxBytes, naming the outbox", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const { handler } = yield* gated
      const { client } = yield* setup({ maxQueueSize: 10 }, handler, { path: dir, maxBytes: 64 * 1024 })
      let refusal: AnalyticsError | undefined
      for (let i = 0; i < 5_000 && refusal === undefined; i++) {
        const result = yield* Effect.result(client.track(track(i)))
        if (Result.isFailure(result)) refusal = result.failure
      }
      assert.isDefined(refusal)
      assert.strictEqual(refusal!.reason._tag, "QueueFull")
      assert.match(refusal!.message, /outbox already holds its maxBytes \(65536 bytes\)/)
    }))

  it.effect("with overflow: \"suspend\", a call waits for room in the outbox instead", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const { handler, release } = yield* gated
      const { caughtUp, client } = yield* setup({ maxQueueSize: 10, overflow: "suspend" }, handler, {
        path: dir,
        maxBytes: 64 * 1024
      })
      let accepted = 0
      const calls = yield* Effect.forkChild(
        Effect.forEach(Array.from({ length: 2_000 }, (_, i) => i), (i) =>
          Effect.andThen(client.track(track(i)), Effect.sync(() => accepted++)), { discard: true }),
        { startImmediately: true }
      )
      yield* caughtUp
      assert.isFalse(yield* isDone(calls), "the outbox is full: a call waits")
      assert.isBelow(accepted, 2_000)
      yield* release
      // Each batch goes when its oldest message is flushInterval old; as messages settle, waiting calls go on.
      for (let i = 0; i < 1_000 && !(yield* isDone(calls)); i++) {
        yield* TestClock.adjust(10_000)
      }
      yield* Fiber.join(calls)
      assert.strictEqual(accepted, 2_000)
      yield* client.flush
    }))

  it.effect("flush waits for the messages waiting on disk too", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const { client, requests } = yield* setup({ maxQueueSize: 2, flushInterval: 60_000 }, MockHttp.ok, {
        path: dir
      })
      for (let i = 1; i <= 7; i++) yield* client.track(track(i))
      yield* client.flush
      assert.deepStrictEqual(requests.flatMap(events), ["e1", "e2", "e3", "e4", "e5", "e6", "e7"])
    }))

  it.effect("with deadLetter, a message that finally failed is kept in dead-letter.ndjson", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const { client, close } = yield* setup({}, MockHttp.statuses(400), { path: dir, deadLetter: true })
      const message = yield* client.track(track(1))
      yield* client.flush
      yield* close
      const lines = fs.readFileSync(path.join(dir, "dead-letter.ndjson"), "utf8").trim().split("\n")
      assert.deepStrictEqual(lines.map((line) => JSON.parse(line).messageId), [message.messageId])
      const again = yield* setup({}, MockHttp.ok, { path: dir })
      yield* again.client.flush
      assert.strictEqual(again.requests.length, 0, "it left the outbox: not sent again")
    }))

  it.effect("if the backlog cannot be read, flush still completes and its callbacks are told at close", () =>
    Effect.gen(function*() {
      const dir = temporary()
      const { handler, release } = yield* gated
      const { client, engine } = yield* setup({ maxQueueSize: 2, maxEventsInBatch: 1 }, handler, { path: dir })
      const told: Array<string> = []
      for (let i = 1; i <= 6; i++) {
        engine.accept("track", track(i), (error) => void told.push(`e${i}:${error?.reason._tag ?? "delivered"}`))
      }
      // The disk loses the segment the backlog is in (it is still being written, through its open descriptor).
      for (const name of fs.readdirSync(dir)) if (name.startsWith("segment-")) fs.unlinkSync(path.join(dir, name))
      yield* release
      yield* client.flush
      assert.deepStrictEqual(told, ["e1:delivered", "e2:delivered"], "what was in memory is sent; the rest waits")
      yield* engine.close()
      assert.deepStrictEqual(told.slice(2), ["e3", "e4", "e5", "e6"].map((e) => `${e}:OutboxUnavailable`))
    }))

  it.effect("a second client on a directory in use fails, naming the directory", () =>
    Effect.gen(function*() {
      const dir = temporary()
      yield* setup({}, MockHttp.ok, { path: dir })
      const second = yield* Effect.flip(setup({}, MockHttp.ok, { path: dir }))
      assert.strictEqual(second.reason._tag, "OutboxUnavailable")
      assert.include(second.message, dir)
      assert.include(second.message, `process ${process.pid}`)
    }))
})

describe("Outbox options", () => {
  it("names the option and the rule", () => {
    const failure = (options: Outbox.FileOptions) => {
      const result = Outbox.file(options)
      assert.isTrue(Result.isFailure(result))
      return Result.isFailure(result) ? result.failure.message : ""
    }
    assert.match(failure({ path: "" }), /outbox\.path/)
    assert.match(failure({ path: "x", maxBytes: 10 }), /outbox\.maxBytes.*65536/)
    assert.match(failure({ path: "x", syncInterval: "soon" as never }), /outbox\.syncInterval/)
    assert.match(failure({ path: "x", deadLetter: "yes" as never }), /outbox\.deadLetter/)
    const resolved = Outbox.file({ path: "x", syncInterval: "always" })
    assert.isTrue(Result.isSuccess(resolved) && resolved.success.syncIntervalMillis === undefined)
    const seconds = Outbox.file({ path: "x", syncInterval: "1 second" })
    assert.isTrue(Result.isSuccess(seconds) && seconds.success.syncIntervalMillis === 1_000)
  })
})

describe("the Promise API with an outbox", () => {
  it("throws at construction on bad outbox options, or a directory in use", async () => {
    const dir = temporary()
    assert.throws(() => new Analytics({ writeKey: "wk", outbox: { path: "" } }), /outbox\.path/)
    const analytics = new Analytics({ writeKey: "wk", host: "http://127.0.0.1:9", outbox: { path: dir } })
    assert.throws(() => new Analytics({ writeKey: "wk", outbox: { path: dir } }), new RegExp(dir))
    await analytics.closeAndFlush({ timeout: 0 })
    new Analytics({ writeKey: "wk", outbox: { path: dir } }).closeAndFlush({ timeout: 0 })
  })
})
