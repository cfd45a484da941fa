/**
 * Process lifetime: real Node child processes against a real server on 127.0.0.1.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { type Sink, start } from "./utils/sink.ts"

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))

const run = (name: string, host: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [fixture(name)],
      { env: { ...process.env, SINK_HOST: host }, timeout: 20_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr })
    )
  })

const sinks: Array<Sink> = []
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()))
})
const sink = async (answer?: Parameters<typeof start>[0]) => {
  const s = await start(answer)
  sinks.push(s)
  return s
}

describe("Analytics in a child process", () => {
  it("a script that makes one call and falls off the end still delivers it", async () => {
    const server = await sink()
    const result = await run("one-call.ts", server.host)
    assert.strictEqual(result.code, 0, result.stderr)
    assert.deepStrictEqual(server.messages().map((m) => m.event), ["fell_off_the_end"])
  })

  it("a script that awaits closeAndFlush delivers everything and exits promptly", async () => {
    const server = await sink()
    const started = performance.now()
    const result = await run("close-and-exit.ts", server.host)
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout, "closed\n")
    assert.deepStrictEqual(server.messages().map((m) => m.type), ["track", "track", "identify"])
    // Far below the 60 s flushInterval it configured: nothing kept the process alive after close.
    assert.isBelow(performance.now() - started, 15_000)
  })

  it("a failing server with no error listener does not crash the process", async () => {
    const server = await sink(() => 500)
    const result = await run("failing-no-listener.ts", server.host)
    assert.strictEqual(result.code, 0, result.stderr)
    assert.strictEqual(result.stdout, "callback: HttpError\nsurvived\n")
    assert.notInclude(result.stderr, "Unhandled")
  })

  it("require() works from CommonJS: the class itself and { Analytics }", async () => {
    const server = await sink()
    const result = await run("require.cjs", server.host)
    assert.strictEqual(result.code, 0, result.stderr)
    assert.sameMembers(server.messages().map((m) => m.event), ["from_require", "from_destructured_require"])
  })
})
