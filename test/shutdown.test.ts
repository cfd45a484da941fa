/**
 * Shutdown: what close reports, and a real process that receives SIGTERM under load (`examples/graceful-shutdown.ts`
 * as a child process against the Collector) reports every accepted message, delivered or failed, before it exits.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import * as Collector from "../src/Collector.ts"
import { host, writeKey } from "./utils/client.ts"
import * as MockHttp from "./utils/MockHttp.ts"

describe("close, Effect API", () => {
  it.effect("the failures stream carries what close gave up on, then ends, so a subscriber knows it saw everything", () =>
    Effect.gen(function*() {
      const mock = yield* MockHttp.make(() => Effect.never) // the API never answers
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(
        AnalyticsClient.layer({ writeKey, host, closeTimeout: 1_000, httpRequestTimeout: 60_000 }).pipe(
          Layer.provide(mock.layer)
        ),
        scope
      )
      const client = Context.get(context, AnalyticsClient.AnalyticsClient)
      // Subscribed in the test's scope, which outlives the client's.
      const subscriber = yield* client.failures.pipe(Stream.runCollect, Effect.forkChild({ startImmediately: true }))
      const a = yield* client.track({ userId: "u", event: "in_flight" })
      yield* mock.next
      const b = yield* client.track({ userId: "u", event: "queued" })
      const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
      yield* TestClock.adjust(1_000)
      yield* Fiber.join(closing)
      // Joining is the check that the stream ended with the client: if it did not, this waits until the test fails.
      const failures = yield* Fiber.join(subscriber)
      const reported = failures.flatMap((f) => f.messages.map((m) => [m.messageId, f.error.reason._tag]))
      assert.sameDeepMembers(reported, [[a.messageId, "FlushTimeout"], [b.messageId, "FlushTimeout"]])
      // A late subscriber finds the stream already ended instead of waiting forever.
      assert.deepStrictEqual(yield* Stream.runCollect(client.failures), [])
    }))
})

// -----------------------------------------------------------------------------
// SIGTERM under load, in a real process
// -----------------------------------------------------------------------------

const example = fileURLToPath(new URL("../examples/graceful-shutdown.ts", import.meta.url))
const exampleKey = "wk_shutdown_5ecret"

interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the example against `collector`, sends SIGTERM once `ready` holds at the collector (so the process is busy:
 * messages queued, batches in flight), and waits for it to exit.
 */
const sigtermUnderLoad = (
  collector: Collector.Service,
  ready: (snapshot: Collector.Snapshot) => boolean,
  env: Record<string, string> = {}
) =>
  Effect.gen(function*() {
    const child = spawn(process.execPath, [example], {
      env: { ...process.env, CUSTOMERIO_HOST: collector.url, CUSTOMERIO_WRITE_KEY: exampleKey, ...env },
      stdio: ["ignore", "pipe", "pipe"]
    })
    // Never leave the child behind, whatever happens below.
    yield* Effect.addFinalizer(() => Effect.sync(() => child.exitCode === null && child.kill("SIGKILL")))
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<Exited>((resolve) =>
      child.once("exit", (code, signal) => {
        // Let the pipes drain: "exit" can come before the last "data".
        setImmediate(() => resolve({ code, signal, stdout, stderr }))
      })
    )
    yield* collector.waitFor(ready).pipe(Effect.timeout("15 seconds"))
    child.kill("SIGTERM")
    return yield* Effect.promise(() => exited).pipe(Effect.timeout("15 seconds"))
  })

const summary = (stdout: string) => {
  const match = /flushed: (\d+) calls, (\d+) delivered, (\d+) failed(?: \((.*)\))?/.exec(stdout)
  assert.isNotNull(match, stdout)
  return { calls: Number(match![1]), delivered: Number(match![2]), failed: Number(match![3]), reasons: match![4] ?? "" }
}

describe("examples/graceful-shutdown.ts receives SIGTERM under load", () => {
  it.live("every accepted message is delivered, exactly once, before the process exits", () =>
    Effect.gen(function*() {
      const collector = yield* Collector.make({ writeKey: exampleKey })
      // Every answer comes 50 ms late: when SIGTERM arrives, requests are in flight and more messages wait behind.
      yield* collector.script(Array.from({ length: 1_000 }, () => Collector.Answer.latency("50 millis")))
      const result = yield* sigtermUnderLoad(collector, (s) => s.messages.length >= 50)
      assert.strictEqual(result.code, 128 + 15, result.stderr) // exited by itself, through the handler
      assert.include(result.stdout, "SIGTERM: flushing events")
      const { calls, delivered, failed } = summary(result.stdout)
      assert.isAtLeast(calls, 50)
      assert.strictEqual(failed, 0)
      assert.strictEqual(delivered, calls)
      // Every call of the process arrived, once: n = 0 … calls - 1, nothing missing, nothing extra.
      const { messages, stats } = yield* collector.snapshot
      const ns = messages.map((m) => (m["properties"] as { n: number }).n).toSorted((a, b) => a - b)
      assert.deepStrictEqual(ns, Array.from({ length: calls }, (_, i) => i))
      assert.strictEqual(stats.duplicates, 0)
    }), { timeout: 40_000 })

  it.live(
    "when the API fails, each message still pending at the close timeout is reported, none lost",
    () =>
      Effect.gen(function*() {
        const collector = yield* Collector.make({ writeKey: exampleKey })
        yield* collector.failureRate({ rate: 1, status: 503 })
        const result = yield* sigtermUnderLoad(collector, (s) => s.requests.length >= 5, {
          CUSTOMERIO_CLOSE_TIMEOUT: "500"
        })
        assert.strictEqual(result.code, 128 + 15, result.stderr)
        const { calls, delivered, failed, reasons } = summary(result.stdout)
        assert.isAbove(calls, 0)
        assert.strictEqual(delivered, 0)
        assert.strictEqual(failed, calls)
        // Retries were still going when close gave up: they end as FlushTimeout, not as silence.
        assert.match(reasons, /^FlushTimeout \d+$/)
        assert.deepStrictEqual(yield* collector.messages, [])
      }),
    { timeout: 40_000 }
  )
})
