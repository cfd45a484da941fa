/**
 * The outcome receipts wait on (src/internal/settlement.ts): told once, to every watcher, even when one throws.
 */
import { assert, describe, it } from "@effect/vitest"
import { Settlement } from "../src/internal/settlement.ts"

describe("Settlement", () => {
  it("tells every watcher even if one throws, then rethrows that for the settler to report", () => {
    const settlement = new Settlement()
    const told: Array<string> = []
    settlement.watch(() => {
      throw new Error("a broken watcher")
    })
    settlement.watch((outcome) => void told.push(`second: ${outcome}`))
    settlement.watch((outcome) => void told.push(`third: ${outcome}`))
    assert.throws(() => settlement.finish(null), /a broken watcher/)
    assert.deepStrictEqual(told, ["second: null", "third: null"])
    // Told once: a later finish changes nothing and tells nobody.
    settlement.finish(null)
    assert.deepStrictEqual(told, ["second: null", "third: null"])
  })
})
