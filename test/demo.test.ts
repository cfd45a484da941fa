/**
 * `npm run demo` is the newcomer's first command: it must deliver everything to the local collector and exit 0.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

describe("demo", () => {
  it("delivers every call through both APIs to the local collector and exits 0", async () => {
    const { CUSTOMERIO_WRITE_KEY: _, ...env } = process.env
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
      execFile(
        process.execPath,
        [fileURLToPath(new URL("../examples/demo.ts", import.meta.url))],
        { env, timeout: 60_000 },
        (error, stdout, stderr) => resolve({ code: error === null ? 0 : (error.code as number | null), stdout, stderr })
      )
    )
    assert.strictEqual(result.code, 0, result.stderr)
    assert.include(result.stdout, "Promise facade: 12 delivered, 0 failed")
    assert.include(result.stdout, "Effect API:     6 delivered, 0 failed")
    assert.include(result.stdout, "The collector received 18 messages")
  })
})
