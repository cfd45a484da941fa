/**
 * The dispatcher on its own (src/internal/batcher/dispatch.ts): what the engine relies on when its consumer fiber
 * fails, and the `caughtUp` gate the other tests wait on.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Dispatch from "../src/internal/batcher/dispatch.ts"
import type * as Plan from "../src/internal/batcher/plan.ts"

const limits: Plan.Limits = { maxEventsInBatch: 2, flushIntervalMillis: 1_000, maxBatchBytes: 1_000 }

describe("dispatch", () => {
  it.effect("caughtUp waits for the consumer to plan what was offered, and sends in batches", () =>
    Effect.gen(function*() {
      const sent: Array<ReadonlyArray<number>> = []
      const dispatcher = yield* Dispatch.make<Plan.Item & { readonly id: number }>({
        limits,
        maxConcurrentRequests: 1,
        send: (batch) => Effect.sync(() => sent.push(batch.map((m) => m.id))),
        onDefect: () => assert.fail("no defect")
      })
      for (let id = 0; id < 5; id++) dispatcher.offer({ id, bytes: 10, enqueuedAt: 0 })
      yield* dispatcher.caughtUp
      assert.deepStrictEqual(sent, [[0, 1], [2, 3]], "the first take goes at once; then by count; 4 waits")
      assert.isTrue(dispatcher.offerFlush())
      yield* dispatcher.caughtUp
      assert.deepStrictEqual(sent.at(-1), [4])
    }))

  it.effect("a defect in the consumer is reported, not left to stall the client", () =>
    Effect.gen(function*() {
      const defects: Array<unknown> = []
      const dispatcher = yield* Dispatch.make<Plan.Item>({
        limits,
        maxConcurrentRequests: 1,
        send: () => Effect.void,
        onDefect: (defect) => defects.push(defect)
      })
      dispatcher.offer({
        enqueuedAt: 0,
        get bytes(): number {
          throw new Error("a planner bug")
        }
      })
      yield* dispatcher.done
      assert.strictEqual((defects[0] as Error).message, "a planner bug")
    }))
})
