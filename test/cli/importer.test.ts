import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { FileImport } from "../../src/internal/cli/importer.ts"

const line = (n: number) =>
  `${JSON.stringify({ type: "track", userId: `u${n}`, event: "e", timestamp: "2024-01-01T00:00:00Z" })}\n`

const ignore = { rejected: () => {}, failed: () => {} }

/** A dry run (no engine) with a checkpoint: what the progress sees of a resumed file. */
const importOnce = (file: string) =>
  Effect.gen(function*() {
    const fileImport = new FileImport(
      file,
      { checkpoint: `${file}.checkpoint`, failed: undefined, rate: undefined, allowMissingTimestamp: false },
      undefined,
      ignore,
      () => {}
    )
    yield* fileImport.resume
    yield* fileImport.read
    yield* fileImport.save
    return fileImport
  })

describe("FileImport", () => {
  it.effect("a resumed plain file counts the bytes before its checkpoint as read: its progress ends at 100%", () =>
    Effect.gen(function*() {
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "cli-importer-")), "events.ndjson")
      fs.writeFileSync(file, line(1) + line(2))
      const first = yield* importOnce(file)
      assert.strictEqual(first.bytesRead, fs.statSync(file).size)
      fs.appendFileSync(file, line(3))
      const resumed = yield* importOnce(file)
      assert.strictEqual(resumed.counts.resumed, 2)
      assert.strictEqual(resumed.counts.delivered, 1)
      assert.strictEqual(resumed.bytesRead, fs.statSync(file).size)
      assert.strictEqual(resumed.size, fs.statSync(file).size)
    }))
})
