/**
 * The queue and its one consumer fiber, which forms batches and hands them to the transport.
 *
 * - The very first message after start is sent at once. After that a batch goes when it holds `maxEventsInBatch`
 *   messages, when its oldest message has waited `flushInterval`, or when the next message would push the request
 *   body past 500 KB.
 * - At most `maxConcurrentRequests` batches are in flight; while all slots are taken the consumer waits, so the
 *   queue (bounded by `maxQueueSize`) absorbs the backlog.
 * - `flush` is a marker that travels through the queue: it completes once everything queued before it is settled.
 * - `close` stops intake, drains, waits for in-flight work and retries, and after the timeout hands whatever is
 *   left to `abandon`.
 *
 * @since 0.1.0
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
import { MAX_BATCH_BYTES } from "./Message.ts"

/**
 * What the batcher needs of a queued message.
 *
 * @category models
 * @since 0.1.0
 */
export interface Queued {
  /** UTF-8 bytes of the message's JSON. */
  readonly bytes: number
  /** Clock time (ms) when the message was accepted: the age trigger counts from here. */
  readonly enqueuedAt: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  readonly maxEventsInBatch: number
  readonly flushIntervalMillis: number
  readonly maxQueueSize: number
  readonly maxConcurrentRequests: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Batcher<A extends Queued> {
  /** Queues a message without waiting; `false` when the queue is full or closed. */
  readonly offerUnsafe: (message: A) => boolean
  /** Queues a message, waiting for room when the queue is full; `false` when closed. */
  readonly offer: (message: A) => Effect.Effect<boolean>
  /** Completes when every message queued before the call is delivered or has finally failed. */
  readonly flush: Effect.Effect<void>
  /**
   * Stops intake, sends everything, waits for in-flight requests and their retries, and after `timeoutMillis`
   * abandons what is left. Idempotent: later calls wait for the first.
   */
  readonly close: (timeoutMillis: number) => Effect.Effect<void>
  readonly isClosed: () => boolean
  /** Messages waiting in the queue. */
  readonly queued: () => number
  /** Requests in flight. */
  readonly inFlight: () => number
}

/** `{"batch":[` + `],"sentAt":"2024-01-01T00:00:00.000Z"}`: the body's bytes besides the messages and commas. */
const bodyOverhead = 48

class FlushRequest {
  readonly done: Deferred.Deferred<void>
  constructor(done: Deferred.Deferred<void>) {
    this.done = done
  }
}

/**
 * Starts the consumer fiber in the current scope.
 *
 * `send` delivers one batch and settles its messages itself (it never fails); `abandon` is told about the
 * messages that close gives up on (queued, batched or in flight when the timeout passed) so their owners learn
 * it. Closing the scope runs `close` with `closeTimeoutMillis`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*<A extends Queued>(
  options: Options & { readonly closeTimeoutMillis: number },
  send: (batch: ReadonlyArray<A>) => Effect.Effect<void>,
  abandon: (messages: ReadonlyArray<A>, timeoutMillis: number) => void
) {
  const clock = yield* Clock.Clock
  const queue = yield* Queue.bounded<A | FlushRequest, Cause.Done>(options.maxQueueSize)
  const permits = yield* Semaphore.make(options.maxConcurrentRequests)
  const inFlight = yield* FiberSet.make<void, never>()
  const flushWaiters = yield* FiberSet.make<void, never>()
  const maxCount = options.maxEventsInBatch

  let closeTimeoutMillis = options.closeTimeoutMillis
  let batch: Array<A> = []
  let batchBytes = bodyOverhead
  let sentFirst = false

  const sendBatch = Effect.suspend(() => {
    if (batch.length === 0) return Effect.void
    const ready = batch
    batch = []
    batchBytes = bodyOverhead
    sentFirst = true
    return Semaphore.take(permits, 1).pipe(
      Effect.andThen(
        FiberSet.run(
          inFlight,
          send(ready).pipe(
            Effect.onInterrupt(() => Effect.sync(() => abandon(ready, closeTimeoutMillis))),
            Effect.ensuring(Semaphore.release(permits, 1))
          )
        )
      ),
      // A batch that waited for a permit when close gave up is abandoned too.
      Effect.onInterrupt(() => Effect.sync(() => abandon(ready, closeTimeoutMillis)))
    )
  })

  // Everything in flight now; the flush resolves when these are settled, without holding up the consumer.
  const settleAfterInFlight = (request: FlushRequest) =>
    Fiber.awaitAll(Array.from(inFlight)).pipe(
      Effect.andThen(Deferred.succeed(request.done, undefined)),
      FiberSet.run(flushWaiters)
    )

  const add = Effect.fnUntraced(function*(items: ReadonlyArray<A | FlushRequest>) {
    for (const item of items) {
      if (item instanceof FlushRequest) {
        yield* sendBatch
        yield* settleAfterInFlight(item)
        continue
      }
      if (batch.length > 0 && batchBytes + item.bytes + 1 > MAX_BATCH_BYTES) yield* sendBatch
      batch.push(item)
      batchBytes += item.bytes + 1
      if (batch.length >= maxCount) yield* sendBatch
    }
    // The first message after start goes at once, so short scripts and first deploys see data immediately.
    if (!sentFirst) yield* sendBatch
  })

  const consume = Effect.gen(function*() {
    while (true) {
      if (batch.length === 0) {
        // Idle: wait without a timer, so an idle client does not keep the process alive.
        const items = yield* Queue.takeBetween(queue, 1, maxCount)
        yield* add(items)
        continue
      }
      const left = batch[0].enqueuedAt + options.flushIntervalMillis - clock.currentTimeMillisUnsafe()
      if (left <= 0) {
        yield* sendBatch
        continue
      }
      const more = yield* Effect.timeoutOption(
        Queue.takeBetween(queue, 1, maxCount - batch.length),
        Duration.millis(left)
      )
      if (Option.isNone(more)) yield* sendBatch
      else yield* add(more.value)
    }
  }).pipe(
    // The queue ended (close) and is drained: send what is left.
    Effect.catchIf(Cause.isDone, () => sendBatch),
    Effect.onInterrupt(() =>
      Effect.sync(() => {
        const left = batch
        batch = []
        if (left.length > 0) abandon(left, closeTimeoutMillis)
      })
    )
  )

  const consumer = yield* Effect.forkScoped(consume, { startImmediately: true })

  const closed = yield* Deferred.make<void>()
  let closing = false

  const close = (timeoutMillis: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (closing) return Deferred.await(closed)
      closing = true
      closeTimeoutMillis = timeoutMillis
      return Queue.end(queue).pipe(
        Effect.andThen(Fiber.await(consumer)),
        Effect.andThen(FiberSet.awaitEmpty(inFlight)),
        // close itself is uninterruptible; the wait inside must stay interruptible for the timeout to cut it off.
        Effect.interruptible,
        Effect.timeoutOption(Duration.millis(timeoutMillis)),
        Effect.flatMap((finished) =>
          Option.isSome(finished) ? Effect.void : Effect.gen(function*() {
            yield* Fiber.interrupt(consumer)
            const leftovers = yield* Queue.clear(queue)
            const messages: Array<A> = []
            for (const item of leftovers) {
              if (item instanceof FlushRequest) yield* Deferred.succeed(item.done, undefined)
              else messages.push(item)
            }
            if (messages.length > 0) abandon(messages, timeoutMillis)
            yield* FiberSet.clear(inFlight)
            yield* FiberSet.awaitEmpty(inFlight)
            yield* FiberSet.awaitEmpty(flushWaiters)
          })
        ),
        Effect.ensuring(Deferred.succeed(closed, undefined)),
        Effect.uninterruptible
      )
    })

  // Added after the consumer was forked: finalizers run last-in first-out, so this drains before it is interrupted.
  yield* Effect.addFinalizer(() => close(closeTimeoutMillis))

  const isClosed = () => closing

  return {
    offerUnsafe: (message) => !closing && Queue.offerUnsafe(queue, message),
    offer: (message) => closing ? Effect.succeed(false) : Queue.offer(queue, message),
    flush: Effect.suspend(() => {
      if (closing) return Deferred.await(closed)
      const request = new FlushRequest(Deferred.makeUnsafe<void>())
      return Queue.offer(queue, request).pipe(
        Effect.flatMap((accepted) => accepted ? Deferred.await(request.done) : Deferred.await(closed))
      )
    }),
    close,
    isClosed,
    queued: () => Queue.sizeUnsafe(queue),
    inFlight: () => Array.from(inFlight).length
  } satisfies Batcher<A>
})
