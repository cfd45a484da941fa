/**
 * The batching rules as a pure function (src/internal/batcher/plan.ts): no clock, no fiber, no queue. Each case is
 * a state and what the consumer took, and the batches that must come out; a property checks the rules hold for any
 * sequence.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as Plan from "../src/internal/batcher/plan.ts"

interface Msg extends Plan.Item {
  readonly id: number
}

const limits: Plan.Limits = { maxEventsInBatch: 3, flushIntervalMillis: 1_000, maxBatchBytes: 200 }
const msg = (id: number, bytes = 10, enqueuedAt = 0): Msg => ({ id, bytes, enqueuedAt })
const flush = new Plan.Flush()
const ids = (step: Plan.Step<Msg>) => step.send.map((batch) => batch.map((m) => m.id))
const started: Plan.State<Msg> = { ...Plan.initial, sentFirst: true }

describe("plan", () => {
  it("sends the very first take at once, whatever it holds", () => {
    const first = Plan.take(limits, Plan.initial, [msg(1), msg(2)])
    assert.deepStrictEqual(ids(first), [[1, 2]])
    assert.isTrue(first.state.sentFirst)
    assert.deepStrictEqual(ids(Plan.take(limits, first.state, [msg(3)])), [], "then it batches")
  })

  it("cuts a batch at maxEventsInBatch", () => {
    const step = Plan.take(limits, started, [1, 2, 3, 4, 5, 6, 7].map((id) => msg(id)))
    assert.deepStrictEqual(ids(step), [[1, 2, 3], [4, 5, 6]])
    assert.deepStrictEqual(step.state.batch.map((m) => m.id), [7])
  })

  it("cuts before a message that would push the body past maxBatchBytes, counting commas and the envelope", () => {
    // 48 bytes of envelope, then 50 + 1 per message: three fit in 200 (201 would not), the fourth starts a batch.
    const step = Plan.take({ ...limits, maxEventsInBatch: 10 }, started, [1, 2, 3, 4].map((id) => msg(id, 50)))
    assert.deepStrictEqual(ids(step), [[1, 2]])
    assert.deepStrictEqual(step.state.batch.map((m) => m.id), [3, 4])
    assert.strictEqual(step.state.bytes, Plan.bodyOverhead + 2 * 51)
  })

  it("sends a message larger than maxBatchBytes alone rather than never", () => {
    const step = Plan.take(limits, started, [msg(1), msg(2, 500), msg(3)])
    assert.deepStrictEqual(ids(step), [[1], [2]])
    assert.deepStrictEqual(step.state.batch.map((m) => m.id), [3])
  })

  it("a flush marker cuts the batch where it stands; several in a row cut nothing more", () => {
    const step = Plan.take(limits, started, [msg(1), flush, flush, msg(2), flush])
    assert.deepStrictEqual(ids(step), [[1], [2]])
    assert.strictEqual(step.state.batch.length, 0)
  })

  it("expire sends the batch once its oldest message has waited flushIntervalMillis", () => {
    const state = Plan.take(limits, started, [msg(1, 10, 500), msg(2, 10, 900)]).state
    assert.strictEqual(Plan.deadline(limits, state), 1_500)
    assert.deepStrictEqual(ids(Plan.expire(limits, state, 1_499)), [])
    assert.deepStrictEqual(ids(Plan.expire(limits, state, 1_500)), [[1, 2]])
    assert.isUndefined(Plan.deadline(limits, started))
  })

  it("drain sends whatever is left; room says how many more the batch takes", () => {
    const state = Plan.take(limits, started, [msg(1)]).state
    assert.strictEqual(Plan.room(limits, state), 2)
    const drained = Plan.drain(state)
    assert.deepStrictEqual(ids(drained), [[1]])
    assert.deepStrictEqual(ids(Plan.drain(drained.state)), [])
  })

  it("never drops, duplicates or reorders a message, and keeps every batch within its limits", () => {
    const item = fc.oneof(
      fc.record({ kind: fc.constant("msg" as const), bytes: fc.integer({ min: 1, max: 120 }) }),
      fc.record({ kind: fc.constant("flush" as const) })
    )
    fc.assert(
      fc.property(
        fc.array(fc.array(item, { maxLength: 8 }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 6 }),
        (chunks, maxEventsInBatch) => {
          const rules = { ...limits, maxEventsInBatch }
          let state: Plan.State<Msg> = Plan.initial
          let next = 0
          const sent: Array<ReadonlyArray<Msg>> = []
          for (const chunk of chunks) {
            const items = chunk.map((i) => i.kind === "flush" ? flush : msg(next++, i.bytes))
            const step = Plan.take(rules, state, items)
            sent.push(...step.send)
            state = step.state
          }
          sent.push(...Plan.drain(state).send)
          assert.deepStrictEqual(sent.flat().map((m) => m.id), Array.from({ length: next }, (_, i) => i))
          for (const batch of sent) {
            assert.isAbove(batch.length, 0)
            assert.isAtMost(batch.length, maxEventsInBatch)
            const bytes = Plan.bodyOverhead + batch.reduce((n, m) => n + m.bytes + 1, 0)
            assert.isTrue(batch.length === 1 || bytes <= rules.maxBatchBytes, `${bytes} bytes`)
          }
        }
      ),
      { seed: 9, numRuns: 500 }
    )
  })
})
