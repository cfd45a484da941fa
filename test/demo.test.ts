/**
 * `npm run demo` is the newcomer's first command: it must deliver everything to the local collector and exit 0.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const demo = (env: NodeJS.ProcessEnv, args: ReadonlyArray<string> = []) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    execFile(
      process.execPath,
      [fileURLToPath(new URL("../examples/demo.ts", import.meta.url)), ...args],
      { env, timeout: 60_000 },
      (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr })
    )
  )

describe("demo", () => {
  it("delivers every call through both APIs to the local collector and exits 0", async () => {
    const { CUSTOMERIO_WRITE_KEY: _, ...env } = process.env
    const result = await demo(env)
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stdout, "Promise facade: 12 delivered, 0 failed")
    assert.include(result.stdout, "Effect API:     6 delivered, 0 failed")
    assert.include(result.stdout, "The collector received 18 messages")
    assert.include(result.stdout, "Watch a run live in your browser: npm run demo -- --inspect")
  })

  it("--inspect keeps the collector open with its inspector until Ctrl-C", async () => {
    const { CUSTOMERIO_WRITE_KEY: _, ...env } = process.env
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL("../examples/demo.ts", import.meta.url)), "--inspect"],
      {
        env,
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    let stdout = ""
    child.stdout.setEncoding("utf8")
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: string) => {
        stdout += chunk
        if (stdout.includes("Ctrl-C to stop")) resolve()
      })
      child.once("exit", () => reject(new Error(`the demo exited: ${stdout}`)))
    })
    const url = /Inspector: (http:\/\/127\.0\.0\.1:\d+)\/\?token=[\w-]+/.exec(stdout)
    assert.isNotNull(url, stdout)
    const state = await (await fetch(`${url![1]}/inspector/api/state`)).json() as { stats: { messages: number } }
    assert.strictEqual(state.stats.messages, 18)
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve))
    child.kill("SIGINT")
    assert.strictEqual(await exited, 0)
  })

  it("stays local when CUSTOMERIO_WRITE_KEY is exported; --live without a key refuses to start", async () => {
    // A host that would fail loudly if anything tried it: the demo must not even look at it.
    const env = {
      ...process.env,
      CUSTOMERIO_WRITE_KEY: "wk_real_workspace",
      CUSTOMERIO_HOST: "http://cdp.demo.invalid"
    }
    const result = await demo(env)
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stdout, "CUSTOMERIO_WRITE_KEY is set but ignored: the demo sends to the local collector")
    assert.include(result.stdout, "The collector received 18 messages")
    const { CUSTOMERIO_WRITE_KEY: _, ...noKey } = process.env
    const refused = await demo(noKey, ["--live"])
    assert.strictEqual(refused.code, 2)
    assert.include(refused.stderr, "set CUSTOMERIO_WRITE_KEY")
  })
})
