/**
 * The collector's store: what it keeps, and what it lets go of.
 */
import { assert, describe, it } from "@effect/vitest"
import * as V8 from "node:v8"
import * as Vm from "node:vm"
import { Ring } from "../../src/internal/collector/store.ts"

V8.setFlagsFromString("--expose-gc")
const gc = Vm.runInNewContext("gc") as () => void

/** Lets the current job end, so that WeakRefs made in it no longer keep their targets. */
const nextTask = () => new Promise<void>((resolve) => setImmediate(resolve))

describe("Ring", () => {
  it("keeps the latest items, in order", () => {
    const ring = new Ring<number>(3)
    for (let i = 1; i <= 5; i++) ring.push(i)
    assert.deepStrictEqual(ring.copy(), [3, 4, 5])
    assert.strictEqual(ring.length, 3)
    assert.strictEqual(ring.get(0), 3)
    assert.strictEqual(ring.dropFirst(), 3)
    assert.deepStrictEqual(ring.view(), [4, 5])
  })

  it("lets go of a forgotten item at once, not at the next compaction", async () => {
    const ring = new Ring<{ readonly n: number }>(2)
    const forgotten = Array.from({ length: 3 }, (_, n) => {
      const item = { n }
      ring.push(item)
      return new WeakRef(item)
    })
    ring.dropFirst() // by size, as the store does: the items 0 (by count) and 1 (dropped) are forgotten
    await nextTask()
    gc()
    assert.isUndefined(forgotten[0]!.deref())
    assert.isUndefined(forgotten[1]!.deref())
    assert.deepStrictEqual(forgotten[2]!.deref(), { n: 2 })
    assert.deepStrictEqual(ring.copy(), [{ n: 2 }])
  })
})
