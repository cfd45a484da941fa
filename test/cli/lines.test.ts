import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { gzipSync } from "node:zlib"
import * as Checkpoint from "../../src/internal/cli/checkpoint.ts"
import { lines } from "../../src/internal/cli/lines.ts"

const openFiles = () => fs.readdirSync("/proc/self/fd").length

/** Polls until the files opened are back to `count` (closing is asynchronous); false if they never are. */
const closedBackTo = async (count: number) => {
  for (let i = 0; i < 200; i++) {
    if (openFiles() <= count) return true
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  return false
}

describe("lines", () => {
  it("numbers the lines after the start offset, with the offset each ends at; a last line may lack its newline", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-lines-"))
    const content = "{\"a\":1}\n\n{\"a\":3}\n{\"a\":4}"
    for (const file of [path.join(dir, "plain.ndjson"), path.join(dir, "packed.ndjson.gz")]) {
      fs.writeFileSync(file, file.endsWith(".gz") ? gzipSync(content) : content)
      const read: Array<{ number: number; text: string; end: number }> = []
      for await (const batch of lines(file, 9, 3)) {
        read.push(...batch.map(({ end, number, text }) => ({ number, text, end })))
      }
      assert.deepStrictEqual(read, [{ number: 3, text: "{\"a\":3}", end: 17 }, {
        number: 4,
        text: "{\"a\":4}",
        end: 24
      }])
    }
  })

  // /proc/self/fd is Linux's.
  it.skipIf(process.platform !== "linux")(
    "a .gz file stopped early (a resume's check, a stopped import) is closed, not left open",
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-lines-"))
      const file = path.join(dir, "events.ndjson.gz")
      fs.writeFileSync(file, gzipSync(Array.from({ length: 100_000 }, (_, i) => `{"n":${i}}\n`).join("")))
      const before = openFiles()
      for (let i = 0; i < 3; i++) {
        const iterator = lines(file)[Symbol.asyncIterator]()
        await iterator.next()
        await iterator.return(undefined)
        const checkpoint = await Checkpoint.verify(file, {
          version: 1,
          file,
          offset: 8,
          lines: 1,
          prefixSha256: "",
          delivered: 0,
          rejected: 0,
          failed: 0,
          updatedAt: ""
        }).then(() => "accepted", (error: Error) => error.message)
        assert.match(checkpoint, /not the ones the checkpoint was made for/)
      }
      assert.isTrue(await closedBackTo(before), `${openFiles() - before} files left open`)
    }
  )
})
