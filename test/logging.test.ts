/**
 * Nothing fails silently: final failures, refusals, the close timeout, unknown options and params keys are logged
 * through Effect's logger (captured here in place of the console), once per cause per minute, with `logLevel` and
 * `debug` to quiet or raise it. The facade's own logging (stderr, only when no callback or listener sees the
 * failure) runs in a child process, as an application would.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import { TestClock } from "effect/testing"
import { spawn } from "node:child_process"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import * as NodeTransport from "../src/NodeTransport.ts"
import { captureLogs, type LogLine, setup, writeKey } from "./utils/client.ts"
import * as MockHttp from "./utils/MockHttp.ts"
import * as Sink from "./utils/sink.ts"

const track = (n: number, extra: Record<string, unknown> = {}) => ({ userId: `u${n}`, event: `e${n}`, ...extra })
const warnings = (logs: ReadonlyArray<LogLine>) => logs.filter((l) => l.level === "Warn").map((l) => l.message)

describe("logging (Effect API)", () => {
  it.effect("a final failure is logged once per cause per minute, then summed up", () =>
    Effect.gen(function*() {
      const { client, logs } = yield* setup({ maxEventsInBatch: 1 }, () => Effect.succeed({ status: 401 }))
      for (let i = 0; i < 3; i++) yield* client.track(track(i))
      yield* client.flush
      assert.deepStrictEqual(warnings(logs), [
        "cdp-analytics: 1 message was not delivered: the API answered 401 (the write key is wrong or lacks access)"
      ])
      const [line] = logs
      assert.deepInclude(line!.annotations, { reason: "HttpError", status: 401, messages: 1 })
      assert.match(String(line!.annotations["messageIds"]), /^[0-9a-f-]{36}$/)
      yield* TestClock.adjust(60_000)
      yield* client.track(track(3))
      yield* client.flush
      assert.deepStrictEqual(warnings(logs).slice(1), [
        "cdp-analytics: 2 more times in the last 60 s: not delivered: HttpError 401",
        "cdp-analytics: 1 message was not delivered: the API answered 401 (the write key is wrong or lacks access)"
      ])
      for (const l of logs) assert.notInclude(JSON.stringify(l), writeKey)
    }))

  it.effect("the close timeout is logged with what the last attempt got; counted repeats are summed up at close", () =>
    Effect.gen(function*() {
      const { client, logs, closeInBackground } = yield* setup(
        { maxEventsInBatch: 1, maxConcurrentRequests: 1, closeTimeout: 1_000, maxQueueSize: 2 },
        (_, index) => index === 0 ? Effect.succeed({ status: 503 }) : Effect.never
      )
      yield* client.track(track(0))
      yield* client.track(track(1))
      for (let i = 2; i < 5; i++) yield* Effect.result(client.track(track(i))) // refused: the client is full
      const closing = yield* closeInBackground
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(closing)
      assert.sameMembers(warnings(logs), [
        "cdp-analytics: a track call was refused: the queue already holds maxQueueSize (2) messages; the call was refused",
        "cdp-analytics: 1 message was still pending at the close timeout of 1000 ms, so not delivered (the last attempt: the API answered 503)",
        "cdp-analytics: 1 message was still pending at the close timeout of 1000 ms, so not delivered",
        "cdp-analytics: 2 more times in the last 1 s: refused: QueueFull"
      ])
      assert.strictEqual(warnings(logs).at(-1), "cdp-analytics: 2 more times in the last 1 s: refused: QueueFull")
    }))

  it.effect("logLevel \"None\" silences the client; \"Error\" keeps its warnings out", () =>
    Effect.gen(function*() {
      for (const logLevel of ["None", "Error"] as const) {
        const { client, logs } = yield* setup({ logLevel, flushAt: 1 } as never, () => Effect.succeed({ status: 400 }))
        yield* client.track(track(1))
        yield* client.flush
        assert.deepStrictEqual(logs, [], logLevel)
      }
    }))

  it.effect("debug logs every request and answer, and never the key", () =>
    Effect.gen(function*() {
      const { client, logs } = yield* setup({ debug: true }, MockHttp.statuses(503))
      yield* client.track(track(1))
      const flushing = yield* Effect.forkChild(client.flush, { startImmediately: true })
      yield* TestClock.adjust(60_000)
      yield* Fiber.join(flushing)
      const debug = logs.filter((l) => l.level === "Debug").map((l) => l.message)
      assert.deepStrictEqual(debug, [
        "cdp-analytics: POST https://api.test/v1/batch: 1 messages",
        "cdp-analytics: 503 after 0 ms",
        "cdp-analytics: POST https://api.test/v1/batch: 1 messages, retry 1",
        "cdp-analytics: 200 after 0 ms"
      ])
      for (const l of logs) assert.notInclude(JSON.stringify(l), writeKey)
    }))

  it.effect("an unknown option is logged once, naming what was probably meant", () =>
    Effect.gen(function*() {
      const { logs } = yield* setup({ flushAt: 1, maxEventsInBach: 5 } as never)
      assert.deepStrictEqual(warnings(logs), [
        `cdp-analytics: option "flushAt" is not an option of this client: it is ignored (did you mean "maxEventsInBatch"?)`,
        `cdp-analytics: option "maxEventsInBach" is not an option of this client: it is ignored (did you mean "maxEventsInBatch"?)`
      ])
    }))

  it.effect("a params key the call does not have is dropped and logged once per key; strictParams refuses it", () =>
    Effect.gen(function*() {
      const { client, logs, next } = yield* setup()
      yield* client.track(track(1, { propertes: { plan: "pro" } }))
      yield* client.track(track(2, { propertes: { plan: "pro" } }))
      const sent = (yield* next).body.batch[0]
      assert.notProperty(sent, "propertes")
      assert.deepStrictEqual(warnings(logs), [
        `cdp-analytics: a track call has a key "propertes" that track does not have, and it was dropped from the message (did you mean "properties"?); with strictParams: true such calls are refused`
      ])
      const strict = yield* setup({ strictParams: true })
      const error = yield* Effect.flip(strict.client.track(track(1, { propertes: {} })))
      assert.strictEqual(error.reason._tag, "ValidationError")
      assert.strictEqual(error.message, `track: "propertes" is not a field of track (did you mean "properties"?)`)
      assert.deepStrictEqual(strict.requests, [])
    }))
})

describe("logging over real sockets (Effect API)", () => {
  const loggedFailure = (host: string) =>
    Effect.gen(function*() {
      const logs: Array<LogLine> = []
      yield* Effect.gen(function*() {
        const analytics = yield* AnalyticsClient.AnalyticsClient
        yield* analytics.track({ userId: "u", event: "e" })
      }).pipe(
        Effect.provide(
          AnalyticsClient.layer({ writeKey, host, maxRetries: 0 }).pipe(Layer.provide(NodeTransport.layer()))
        ),
        Effect.provide(captureLogs(logs))
      )
      return warnings(logs)
    })

  it.live("a refused port and a name that does not resolve are logged with their cause and what to check", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const server = Http.createServer().listen(0, "127.0.0.1", () => {
            const address = server.address() as AddressInfo
            server.close(() => resolve(address.port))
          })
        })
      )
      const refused = yield* loggedFailure(`http://127.0.0.1:${port}`)
      assert.strictEqual(refused.length, 1)
      assert.match(refused[0]!, /^cdp-analytics: 1 message was not delivered: the request failed: connect ECONNREFUSED/)
      assert.include(refused[0]!, `nothing accepts connections at http://127.0.0.1:${port}`)
      const unresolved = yield* loggedFailure("http://cdp.custmer.invalid")
      assert.match(unresolved[0]!, /the host name of http:\/\/cdp\.custmer\.invalid does not resolve/)
    }))
})

// -----------------------------------------------------------------------------
// The facade, in a process of its own
// -----------------------------------------------------------------------------

const fixture = fileURLToPath(new URL("fixtures/log-failure.ts", import.meta.url))

const runFixture = (host: string, mode: string) =>
  new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
    const child = spawn(process.execPath, [fixture, host, mode], { stdio: ["ignore", "pipe", "pipe"] })
    let stderr = ""
    let stdout = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.on("exit", (code) => resolve({ code, stderr, stdout }))
  })

describe("logging (Promise facade)", () => {
  it.live("with nobody listening, a failure goes to stderr; a callback or an error listener keeps it quiet", () =>
    Effect.gen(function*() {
      const sink = yield* Sink.make(() => 401)
      const results: Record<string, { code: number | null; stderr: string; stdout: string }> = {}
      for (const mode of ["quiet", "callback", "listener", "none"]) {
        results[mode] = yield* Effect.promise(() => runFixture(sink.host, mode))
      }
      for (const result of Object.values(results)) assert.strictEqual(result.code, 0)
      assert.match(
        results["quiet"]!.stderr,
        /WARN .*cdp-analytics: 1 message was not delivered: the API answered 401 \(the write key is wrong or lacks access\)/
      )
      assert.strictEqual(results["quiet"]!.stdout, "", "to stderr, not stdout")
      assert.notInclude(results["callback"]!.stderr, "cdp-analytics")
      assert.notInclude(results["listener"]!.stderr, "cdp-analytics")
      assert.notInclude(results["none"]!.stderr, "cdp-analytics", "logLevel: \"None\"")
      for (const result of Object.values(results)) assert.notInclude(result.stderr, "wk_log_5ecret")
    }))
})
