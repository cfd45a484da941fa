/**
 * The queue and its one consumer fiber: it takes what callers queued, asks the planner (`plan.ts`) what to send, and
 * runs each batch in a fiber of its own, at most `maxConcurrentRequests` at once.
 *
 * The dispatcher decides *when* to send; it does not keep books. Every message it holds is also in the engine's
 * ledger until it is settled, so interrupting the consumer or a request at any point loses nothing: whatever they
 * held is still owed an outcome, and close hands it out.
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as FiberSet from "effect/FiberSet"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Semaphore from "effect/Semaphore"
import * as Plan from "./plan.ts"

/** What the dispatcher needs of a message. */
export type Item = Plan.Item

export interface Options<A extends Item> {
  readonly limits: Plan.Limits
  readonly maxConcurrentRequests: number
  /** Delivers one batch and settles its messages; it never fails. */
  readonly send: (batch: ReadonlyArray<A>) => Effect.Effect<void>
  /** Told if the consumer dies of a defect (a bug): what it held must not wait for a close to be reported. */
  readonly onDefect: (defect: unknown) => void
}

export interface Dispatcher<A extends Item> {
  /** Hands a message to the consumer; `false` once the queue has ended. */
  readonly offer: (message: A) => boolean
  /** Sends the batch being formed now, with everything queued before it; `false` once the queue has ended. */
  readonly offerFlush: () => boolean
  /** No more messages: the consumer sends what is queued and stops. */
  readonly end: Effect.Effect<void>
  /** Completes once the consumer has stopped and no request is in flight. */
  readonly done: Effect.Effect<void>
  /** Interrupts the consumer and every request in flight, and waits for them to stop. */
  readonly stop: Effect.Effect<void>
  /**
   * Completes once the consumer cannot go on without something from outside: it has planned everything queued and
   * started its batches, or it waits for a request slot, or it has stopped. Tests use it instead of yielding and
   * hoping.
   */
  readonly caughtUp: Effect.Effect<void>
  /** Messages and flush markers waiting in the queue. */
  readonly queued: () => number
  /** Requests in flight. */
  readonly inFlight: () => number
}

/** Starts the consumer fiber in the current scope. */
export const make = Effect.fnUntraced(function*<A extends Item>(options: Options<A>) {
  const { limits } = options
  const clock = yield* Clock.Clock
  const queue = yield* Queue.unbounded<A | Plan.Flush, Cause.Done>()
  const permits = yield* Semaphore.make(options.maxConcurrentRequests)
  const inFlight = yield* FiberSet.make<void, never>()

  let state: Plan.State<A> = Plan.initial
  // Items (messages and flush markers) put into the queue and taken out of it: when they are equal and the
  // consumer waits for input, it has nothing left to do.
  let offered = 0
  let taken = 0
  let running = 0
  let waitingForInput = false
  let waitingForSlot = false
  let stopped = false
  const watchers: Array<Deferred.Deferred<void>> = []

  const quiet = () => stopped || waitingForSlot || (waitingForInput && taken === offered)

  // Called wherever the consumer starts to wait. Watchers are taken off the list before any is woken: waking runs
  // the watching fiber at once, and it may start watching again before this returns.
  const reached = () => {
    if (watchers.length === 0 || !quiet()) return
    for (const watcher of watchers.splice(0)) Deferred.doneUnsafe(watcher, Effect.void)
  }

  const dispatch = (batch: ReadonlyArray<A>) =>
    Effect.suspend(() => {
      waitingForSlot = running >= options.maxConcurrentRequests
      reached()
      return Semaphore.take(permits, 1)
    }).pipe(
      Effect.andThen(Effect.suspend(() => {
        waitingForSlot = false
        running++
        return FiberSet.run(
          inFlight,
          Effect.ensuring(
            options.send(batch),
            Effect.andThen(Effect.sync(() => running--), Semaphore.release(permits, 1))
          ),
          { startImmediately: true }
        )
      }))
    )

  const run = Effect.fnUntraced(function*(step: Plan.Step<A>) {
    state = step.state
    for (const batch of step.send) yield* dispatch(batch)
  })

  const takeSome = Effect.suspend(() => {
    waitingForInput = true
    reached()
    return Queue.takeBetween(queue, 1, Plan.room(limits, state))
  })

  const consume = Effect.gen(function*() {
    while (true) {
      const due = Plan.deadline(limits, state)
      const left = due === undefined ? Infinity : due - clock.currentTimeMillisUnsafe()
      // Idle: wait without a timer, so an idle client does not keep the process alive.
      const items = left === Infinity
        ? yield* takeSome
        : left > 0
        ? Option.getOrUndefined(yield* Effect.timeoutOption(takeSome, Duration.millis(left)))
        : undefined
      waitingForInput = false
      if (items === undefined) {
        yield* run(Plan.expire(limits, state, clock.currentTimeMillisUnsafe()))
        continue
      }
      taken += items.length
      yield* run(Plan.take(limits, state, items))
    }
  }).pipe(
    // The queue ended and is drained: send what is left.
    Effect.catchIf(Cause.isDone, () => run(Plan.drain(state))),
    Effect.catchDefect((defect) => Effect.sync(() => options.onDefect(defect))),
    Effect.ensuring(Effect.sync(() => {
      stopped = true
      reached()
    }))
  )

  const consumer = yield* Effect.forkScoped(consume, { startImmediately: true })

  const put = (item: A | Plan.Flush): boolean => {
    if (!Queue.offerUnsafe(queue, item)) return false
    offered++
    return true
  }

  return {
    offer: put,
    offerFlush: () => put(new Plan.Flush()),
    end: Effect.asVoid(Queue.end(queue)),
    done: Effect.andThen(Fiber.await(consumer), FiberSet.awaitEmpty(inFlight)),
    stop: Effect.gen(function*() {
      yield* Fiber.interrupt(consumer)
      yield* FiberSet.clear(inFlight)
      yield* FiberSet.awaitEmpty(inFlight)
      yield* Queue.shutdown(queue)
    }),
    caughtUp: Effect.suspend(() => {
      if (quiet()) return Effect.void
      const done = Deferred.makeUnsafe<void>()
      watchers.push(done)
      return Deferred.await(done)
    }),
    queued: () => Queue.sizeUnsafe(queue),
    inFlight: () => running
  } satisfies Dispatcher<A>
})
