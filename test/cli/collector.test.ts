/**
 * `cdp-analytics collector`, run in-process (`run`, as bin.ts runs it) on a real socket on 127.0.0.1: it prints its
 * address with the token first, serves until told to stop, checks against a plan module, and says what to install
 * when the optional peer it runs on is missing.
 */
import { assert, describe, it } from "@effect/vitest"
import * as CliCommand from "effect/cli/Command"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Net from "node:net"
import { collectorCommand } from "../../src/internal/cli/collectorCommand.ts"
import { exitCodes, Io, run } from "../../src/internal/cli/command.ts"
import { environment } from "../../src/internal/cli/environment.ts"

const makeIo = () => {
  const stdout: Array<string> = []
  const stderr: Array<string> = []
  const stop = Deferred.makeUnsafe<"SIGINT" | "SIGTERM">()
  const io: Io["Service"] = {
    stdout: { write: (text) => void stdout.push(text) },
    stderr: { write: (text) => void stderr.push(text), isTTY: false, columns: undefined },
    signal: Deferred.await(stop)
  }
  return { io, stop, stdout: () => stdout.join(""), stderr: () => stderr.join("") }
}

/** Waits until the program printed its first line. */
const firstLine = (out: () => string) =>
  Effect.gen(function*() {
    while (!out().includes("\n")) yield* Effect.sleep(10)
    return out().split("\n")[0]!
  }).pipe(Effect.timeout("10 seconds"))

const send = (host: string, batch: ReadonlyArray<unknown>) =>
  Effect.promise(() =>
    fetch(`${host}/v1/batch`, {
      method: "POST",
      headers: { authorization: `Basic ${btoa("any-key:")}`, "content-type": "application/json" },
      body: JSON.stringify({ batch })
    }).then((response) => response.status)
  )

describe("cdp-analytics collector", () => {
  it.live("prints its address with the token first, collects until SIGINT, then exits 0", () =>
    Effect.gen(function*() {
      const { io, stop, stdout, stderr } = makeIo()
      const program = yield* Effect.forkChild(run(["collector", "--port", "0"]).pipe(Effect.provideService(Io, io)))
      const line = yield* firstLine(stdout)
      const match = /^Collector listening on (http:\/\/127\.0\.0\.1:\d+)\/\?token=([\w-]{22})$/.exec(line)
      assert.isNotNull(match, line)
      const host = match![1]!
      assert.include(stdout(), `set the client's host to ${host}`)
      assert.strictEqual(yield* send(host, [{ type: "track", userId: "u1", event: "e", messageId: "m1" }]), 200)
      const state = yield* Effect.promise(() =>
        fetch(`${host}/inspector/api/state`, { headers: { "x-collector-token": match![2]! } }).then((r) =>
          r.json() as Promise<any>
        )
      )
      assert.isTrue(state.control)
      assert.strictEqual(state.stats.messages, 1)
      assert.strictEqual(stderr(), "", "no warning on 127.0.0.1")
      Deferred.doneUnsafe(stop, Effect.succeed("SIGINT"))
      assert.strictEqual(yield* Fiber.join(program), exitCodes.ok)
      assert.strictEqual(stderr(), "SIGINT: stopped after 1 request and 1 message\n")
      // The port is free again.
      const refused = yield* Effect.promise(() => fetch(host).then(() => "answered", () => "refused"))
      assert.strictEqual(refused, "refused")
    }))

  it.live("--plan checks each message against the plan a module exports; a module without one is refused", () =>
    Effect.gen(function*() {
      const { io, stop, stdout } = makeIo()
      const program = yield* Effect.forkChild(
        run(["collector", "--port", "0", "--plan", "test/fixtures/tracking-plan.ts"]).pipe(
          Effect.provideService(Io, io)
        )
      )
      const host = /http:\/\/127\.0\.0\.1:\d+/.exec(yield* firstLine(stdout))![0]
      assert.include(stdout(), "plan:       messages are checked against test/fixtures/tracking-plan.ts")
      yield* send(host, [{ type: "track", userId: "u1", event: "Order Completed", properties: { revenue: "x" } }])
      const { messages } = yield* Effect.promise(() =>
        fetch(`${host}/inspector/api/messages`).then((r) => r.json() as Promise<any>)
      )
      assert.deepStrictEqual(messages[0].checks.map((c: { rule: string }) => c.rule), ["id", "timestamp", "plan"])
      Deferred.doneUnsafe(stop, Effect.succeed("SIGTERM"))
      assert.strictEqual(yield* Fiber.join(program), exitCodes.ok)

      const other = makeIo()
      const code = yield* run(["collector", "--port", "0", "--plan", "test/fixtures/not-a-plan.ts"]).pipe(
        Effect.provideService(Io, other.io)
      )
      assert.strictEqual(code, exitCodes.usage)
      assert.include(other.stderr(), "the module exports no TrackingPlan")
      assert.strictEqual(other.stdout(), "")
    }))

  it.live("a port in use is an error that says what to do", () =>
    Effect.gen(function*() {
      const blocker = Net.createServer()
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) =>
          blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as Net.AddressInfo).port))
        )
      )
      const { io, stderr } = makeIo()
      const code = yield* run(["collector", "--port", String(port)]).pipe(Effect.provideService(Io, io))
      blocker.close()
      assert.strictEqual(code, exitCodes.incomplete)
      assert.include(stderr(), `port ${port} is taken on 127.0.0.1: pass another --port, or --port 0 for a free one`)
    }))

  it.effect("without @effect/platform-node it says what to install, and nothing else runs", () =>
    Effect.gen(function*() {
      const { io, stdout, stderr } = makeIo()
      let code = -1
      const missing = () =>
        Promise.reject(
          Object.assign(
            new Error(
              "Cannot find package '@effect/platform-node' imported from /app/node_modules/x/dist/Collector.js"
            ),
            { code: "ERR_MODULE_NOT_FOUND" }
          )
        )
      const cli = CliCommand.runWith(collectorCommand((exit) => code = exit, missing), { version: "test" })
      yield* cli(["--port", "0"]).pipe(Effect.provide(environment(io)), Effect.provideService(Io, io))
      assert.strictEqual(code, exitCodes.incomplete)
      assert.strictEqual(
        stderr(),
        "error: the collector runs on @effect/platform-node, an optional peer dependency that is not installed. Install it next to cdp-analytics-effect:\n\n  npm install @effect/platform-node\n\n"
      )
      assert.strictEqual(stdout(), "")
    }))
})
