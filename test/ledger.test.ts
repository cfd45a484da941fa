/**
 * The ledger of accepted, unsettled messages (src/internal/ledger.ts): order, room, flush watermarks, and waking
 * waiters that wait again while they are being woken.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { type Entry, Ledger } from "../src/internal/ledger.ts"

const entry = (): Entry => ({ seq: 0, prev: undefined, next: undefined })

describe("Ledger", () => {
  it.effect("keeps entries in acceptance order and removes any of them in O(1)", () =>
    Effect.sync(() => {
      const ledger = new Ledger<Entry>(10)
      const [a, b, c] = [entry(), entry(), entry()]
      for (const e of [a, b, c]) ledger.add(e)
      assert.deepStrictEqual([a.seq, b.seq, c.seq], [1, 2, 3])
      ledger.remove(b)
      assert.deepStrictEqual(ledger.held(), [a, c])
      ledger.remove(a)
      ledger.remove(c)
      assert.deepStrictEqual(ledger.held(), [])
      assert.strictEqual(ledger.size, 0)
    }))

  it.effect("has room below its capacity", () =>
    Effect.sync(() => {
      const ledger = new Ledger<Entry>(2)
      ledger.add(entry())
      assert.isTrue(ledger.hasRoom())
      ledger.add(entry())
      assert.isFalse(ledger.hasRoom())
    }))

  it.effect("settledThrough completes once every entry up to its seq is settled, not before", () =>
    Effect.gen(function*() {
      const ledger = new Ledger<Entry>(10)
      const [a, b] = [entry(), entry()]
      ledger.add(a)
      ledger.add(b)
      const waiting = yield* Effect.forkChild(ledger.settledThrough(a.seq), { startImmediately: true })
      ledger.remove(b)
      ledger.notify(1)
      assert.isUndefined(waiting.pollUnsafe(), "a is still held")
      ledger.remove(a)
      ledger.notify(1)
      yield* Fiber.join(waiting)
    }))

  it.effect("a flush started while an earlier one is being woken is not woken with it", () =>
    Effect.gen(function*() {
      const ledger = new Ledger<Entry>(10)
      const a = entry()
      ledger.add(a)
      let second: Fiber.Fiber<void> | undefined
      const b = entry()
      // Woken synchronously by notify: it accepts and flushes again before notify returns.
      const first = yield* Effect.forkChild(
        Effect.andThen(
          ledger.settledThrough(a.seq),
          Effect.sync(() => {
            ledger.add(b)
            second = Effect.runFork(ledger.settledThrough(b.seq))
          })
        ),
        { startImmediately: true }
      )
      ledger.remove(a)
      ledger.notify(1)
      yield* Fiber.join(first)
      assert.isUndefined(second!.pollUnsafe(), "b is held: its flush waits")
      ledger.remove(b)
      ledger.notify(1)
      yield* Fiber.join(second!)
    }))

  it.effect("untilRoom returns at once when there is room, wakes one waiter per freed entry, everyone at close", () =>
    Effect.gen(function*() {
      const ledger = new Ledger<Entry>(1)
      yield* ledger.untilRoom // room: no wait
      const a = entry()
      ledger.add(a)
      const w1 = yield* Effect.forkChild(ledger.untilRoom, { startImmediately: true })
      const w2 = yield* Effect.forkChild(ledger.untilRoom, { startImmediately: true })
      ledger.remove(a)
      ledger.notify(1)
      yield* Fiber.join(w1)
      assert.isUndefined(w2.pollUnsafe())
      ledger.close()
      yield* Fiber.join(w2)
      ledger.add(entry())
      yield* ledger.untilRoom // full, but closed: it never waits
    }))

  it.effect("a woken waiter that gives up passes its turn on; an interrupted one leaves no trace", () =>
    Effect.gen(function*() {
      const ledger = new Ledger<Entry>(1)
      const a = entry()
      ledger.add(a)
      const gone = yield* Effect.forkChild(ledger.untilRoom, { startImmediately: true })
      const next = yield* Effect.forkChild(ledger.untilRoom, { startImmediately: true })
      yield* Fiber.interrupt(gone)
      ledger.passRoom()
      yield* Fiber.join(next)
      const flush = yield* Effect.forkChild(ledger.settledThrough(a.seq), { startImmediately: true })
      yield* Fiber.interrupt(flush)
      ledger.remove(a)
      ledger.notify(1) // the interrupted flush's waiter was removed: nothing to wake, nothing kept
      assert.strictEqual(ledger.size, 0)
    }))
})
