/**
 * Receipts of messages that wait in a file outbox's backlog, in a child process run with `--expose-gc`: the caller
 * keeps only the `delivered` promises, garbage is collected while the messages wait, and every promise settles.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

const fixture = fileURLToPath(new URL("fixtures/backlog-receipts.ts", import.meta.url))

describe("receipts in a child process", () => {
  it("a backlog message's delivered settles though only the promise is kept and garbage was collected", async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["--expose-gc", "--experimental-strip-types", "--no-warnings", fixture],
        { timeout: 20_000 },
        (error, out, stderr) => error === null ? resolve(out) : reject(new Error(`${error.message}\n${stderr}`))
      )
    )
    assert.deepStrictEqual(stdout.trim().split(","), Array.from({ length: 6 }, () => "delivered"))
  })
})
