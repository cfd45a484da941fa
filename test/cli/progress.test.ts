import { assert, describe, it } from "@effect/vitest"
import { Progress } from "../../src/internal/cli/progress.ts"

const counts = (delivered: number) => ({ lines: delivered, resumed: 0, blank: 0, delivered, rejected: 0, failed: 0 })

const state = (delivered: number, bytesRead: number) => ({
  file: "events.ndjson",
  counts: counts(delivered),
  bytesRead,
  size: 1_000,
  checkpoint: undefined,
  failed: undefined
})

const terminal = (isTTY: boolean) => {
  const written: Array<string> = []
  return { written, isTTY, columns: 120, write: (text: string) => void written.push(text) }
}

describe("Progress", () => {
  it("on a terminal: a bar redrawn in place, with the percent, events/s, ETA and counts; notes go above it", () => {
    const screen = terminal(true)
    const progress = new Progress(screen, { dryRun: false, now: 0 })
    progress.tick(state(0, 0), 0, 1, 100)
    progress.tick(state(500, 250), 0, 1, 1_100)
    const bar = screen.written.at(-1)!
    assert.isTrue(bar.startsWith("\r\u001b[2K"))
    assert.match(
      bar.slice(5),
      /^events\.ndjson \[█+░+\] 25%  500 events\/s  ETA 3s  500 delivered  0 rejected  0 failed$/
    )
    progress.rejected("events.ndjson", 7, "not JSON")
    // The bar is cleared before the note, and the note ends its line.
    assert.deepStrictEqual(screen.written.slice(-2), ["\r\x1b[2K", "events.ndjson:7: rejected: not JSON\n"])
  })

  it("elsewhere: one plain line every 5 s, no control characters", () => {
    const screen = terminal(false)
    const progress = new Progress(screen, { dryRun: false, now: 0 })
    for (let now = 100; now <= 12_000; now += 100) progress.tick(state(now, now / 20), 0, 1, now)
    assert.strictEqual(screen.written.length, 2)
    assert.match(
      screen.written[0]!,
      /^events\.ndjson: 25\.0%, 1,000 events\/s, ETA \d+s, 5,000 delivered, .* \(5s elapsed\)\n$/
    )
    for (const line of screen.written) assert.isFalse(line.includes("\u001b") || line.includes("\r"))
  })
})
