import { assert, describe, it } from "@effect/vitest"
import { Pacer } from "../../src/internal/cli/pacer.ts"

describe("Pacer", () => {
  it("spaces events 1/N s apart after a short burst", () => {
    const pacer = new Pacer(100, { burstMillis: 100, minWaitMillis: 10 })
    // At t=0 the first 100 ms of slots are a burst: ten events go at once.
    const waits = Array.from({ length: 12 }, () => pacer.take(0))
    assert.deepStrictEqual(waits.slice(0, 10), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    assert.deepStrictEqual(waits.slice(10), [0, 10])
  })

  it("holds the average rate over a long run", () => {
    const pacer = new Pacer(250)
    let now = 0
    for (let i = 0; i < 10_000; i++) now += pacer.take(now)
    // 10 000 events at 250/s: 40 s, less the first burst.
    assert.isAtLeast(now, 39_800)
    assert.isAtMost(now, 40_000)
  })

  it("does not catch up after a pause beyond the burst", () => {
    const pacer = new Pacer(100)
    pacer.take(0)
    // A 10 s pause (a Retry-After): only a 100 ms burst is allowed, not 1 000 events at once.
    let sentAtOnce = 0
    while (pacer.take(10_000) === 0) sentAtOnce++
    assert.isAtMost(sentAtOnce, 11)
  })
})
