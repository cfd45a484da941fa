/**
 * Every message the client accepted and has not yet settled, in acceptance order: the one place that knows what is
 * owed an outcome. Whatever holds a message at a given moment (the queue, the batch being formed, a batch waiting
 * for a request slot, a request in flight), the ledger holds it too, so close can abandon exactly what is left
 * without asking any fiber what it was holding.
 *
 * It also answers the three questions that depend on it:
 * - room: fewer than `capacity` messages are held (`maxQueueSize` bounds everything accepted and not yet settled);
 * - flush: everything accepted up to a given message is settled (with an outbox, messages are accepted before they
 *   are added: a `seq` may be one not added yet);
 * - close: nothing is held.
 *
 * Entries are linked through their own fields, so adding and removing allocate nothing.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"

/** The fields the ledger keeps on each entry. */
export interface Entry {
  /** Acceptance order, from 1. */
  seq: number
  prev: Entry | undefined
  next: Entry | undefined
}

interface Waiter {
  seq: number
  readonly done: Deferred.Deferred<void>
}

export class Ledger<E extends Entry> {
  readonly capacity: number
  #head: E | undefined
  #tail: E | undefined
  #size = 0
  #lastSeq = 0
  #closed = false
  #ended = false
  // Flushes waiting for everything up to `seq` to settle; `seq`s only grow, so the list stays sorted.
  readonly #flushes: Array<Waiter> = []
  readonly #roomWaiters: Array<Deferred.Deferred<void>> = []
  readonly #removalWaiters: Array<Deferred.Deferred<void>> = []
  readonly #emptyWaiters: Array<Deferred.Deferred<void>> = []

  constructor(capacity: number) {
    this.capacity = capacity
  }

  get size(): number {
    return this.#size
  }

  /** The `seq` of the last entry added. */
  get lastSeq(): number {
    return this.#lastSeq
  }

  hasRoom(): boolean {
    return this.#size < this.capacity
  }

  add(entry: E): void {
    entry.seq = ++this.#lastSeq
    entry.prev = this.#tail
    entry.next = undefined
    if (this.#tail === undefined) this.#head = entry
    else this.#tail.next = entry
    this.#tail = entry
    this.#size++
  }

  /** Removes a settled entry. Call {@link notify} once the whole part is removed. */
  remove(entry: E): void {
    if (entry.prev === undefined) this.#head = entry.next as E | undefined
    else entry.prev.next = entry.next
    if (entry.next === undefined) this.#tail = entry.prev as E | undefined
    else entry.next.prev = entry.prev
    entry.prev = undefined
    entry.next = undefined
    this.#size--
  }

  /** Every entry still held, oldest first: what close gives up on. */
  held(): Array<E> {
    const all: Array<E> = []
    for (let entry = this.#head; entry !== undefined; entry = entry.next as E | undefined) all.push(entry)
    return all
  }

  /**
   * Wakes whoever waits on what the last removals changed. The waiters are taken off their lists before any is
   * woken: waking runs the waiting fiber at once, and it may wait again (a new flush) before this returns.
   */
  notify(freed: number): void {
    const oldest = this.#head?.seq ?? this.#lastSeq + 1
    let flushes = 0
    while (flushes < this.#flushes.length && this.#flushes[flushes]!.seq < oldest) flushes++
    const wake = [
      ...this.#flushes.splice(0, flushes).map((waiter) => waiter.done),
      ...this.#roomWaiters.splice(0, freed),
      ...(freed > 0 ? this.#removalWaiters.splice(0) : []),
      ...(this.#size === 0 ? this.#emptyWaiters.splice(0) : [])
    ]
    for (const waiter of wake) Deferred.doneUnsafe(waiter, Effect.void)
  }

  /** Completes once every entry up to `seq` is settled, including entries not added yet, or once the ledger ended. */
  settledThrough(seq: number): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.#ended || (this.#head?.seq ?? this.#lastSeq + 1) > seq) return Effect.void
      const waiter = { seq, done: Deferred.makeUnsafe<void>() }
      this.#flushes.push(waiter)
      return Deferred.await(waiter.done).pipe(
        Effect.onInterrupt(() => Effect.sync(() => remove(this.#flushes, waiter)))
      )
    })
  }

  /** Completes once nothing is held. */
  readonly empty: Effect.Effect<void> = Effect.suspend(() => {
    if (this.#size === 0) return Effect.void
    const done = Deferred.makeUnsafe<void>()
    this.#emptyWaiters.push(done)
    return Deferred.await(done).pipe(Effect.onInterrupt(() => Effect.sync(() => remove(this.#emptyWaiters, done))))
  })

  /**
   * Completes at once when there is room or the ledger is closed, else once an entry was removed (then look again:
   * someone else may have taken the room). Checking and waiting are one step, so no removal can slip between them.
   */
  readonly untilRoom: Effect.Effect<void> = Effect.suspend(() => {
    if (this.#closed || this.hasRoom()) return Effect.void
    const done = Deferred.makeUnsafe<void>()
    this.#roomWaiters.push(done)
    return Deferred.await(done).pipe(Effect.onInterrupt(() => Effect.sync(() => remove(this.#roomWaiters, done))))
  })

  /**
   * Completes at the next removal, whether or not the ledger has room then: for a resource that only removals free
   * (the outbox's bytes), which the caller checks again itself. Closing wakes it too.
   */
  readonly nextRemoval: Effect.Effect<void> = Effect.suspend(() => {
    if (this.#closed) return Effect.void
    const done = Deferred.makeUnsafe<void>()
    this.#removalWaiters.push(done)
    return Deferred.await(done).pipe(Effect.onInterrupt(() => Effect.sync(() => remove(this.#removalWaiters, done))))
  })

  /** A waiter that was woken but gives up without taking the room passes its turn to the next one. */
  passRoom(): void {
    const next = this.#roomWaiters.shift()
    if (next !== undefined) Deferred.doneUnsafe(next, Effect.void)
  }

  /** No entry will be added after the last one (the outbox's backlog stays on disk): flushes wait for it at most. */
  capFlushes(): void {
    for (const waiter of this.#flushes) waiter.seq = Math.min(waiter.seq, this.#lastSeq)
    this.notify(0)
  }

  /** Nothing will be settled any more (what is left was kept for later): flushes stop waiting. */
  end(): void {
    this.#ended = true
    for (const waiter of this.#flushes.splice(0)) Deferred.doneUnsafe(waiter.done, Effect.void)
  }

  /** No call is accepted any more: whoever waits for room gives up. */
  close(): void {
    this.#closed = true
    for (const waiter of [...this.#roomWaiters.splice(0), ...this.#removalWaiters.splice(0)]) {
      Deferred.doneUnsafe(waiter, Effect.void)
    }
  }
}

const remove = <A>(list: Array<A>, item: A): void => {
  const index = list.indexOf(item)
  if (index !== -1) list.splice(index, 1)
}
