/**
 * The engine both faces share: validate and encode a call once, record it in the ledger, queue it, batch it, send
 * it, and settle every accepted message exactly once (delivered, finally failed, or abandoned at the close timeout).
 *
 * Exactly once by construction: a message enters the ledger when it is accepted and leaves it when it is settled,
 * and settling marks it so it can never be settled again. Whatever a fiber held when it was interrupted is still in
 * the ledger, so close abandons exactly what is left. `maxQueueSize` bounds the ledger, hence everything accepted and
 * not yet settled: queued, being batched, waiting for a request slot or in flight.
 *
 * With an outbox, a message is written to it before the call returns, and the ledger holds at most `maxQueueSize` of
 * them in memory: the rest wait on disk (the backlog) and are handed out, oldest first, as messages settle. A
 * settled message is acknowledged in the outbox; one still unsent when close gives up is kept there for the next
 * client, which sends it before anything new.
 *
 * `AnalyticsClient` wraps it in Effects; the Promise facade `Analytics` calls its synchronous `accept` directly, so
 * a call costs no fiber, Promise or runtime round-trip.
 */
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as References from "effect/References"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as AnalyticsConfig from "../AnalyticsConfig.ts"
import {
  AnalyticsError,
  ClientClosed,
  FlushTimeout,
  MessageTooLarge,
  OutboxUnavailable,
  QueueFull,
  TransportError,
  type ValidationError
} from "../AnalyticsError.ts"
import * as AnalyticsMetrics from "../AnalyticsMetrics.ts"
import * as Message from "../Message.ts"
import type * as Outbox from "../Outbox.ts"
import type * as TrackingPlan from "../TrackingPlan.ts"
import * as Dispatch from "./batcher/dispatch.ts"
import { Envelope, type MessageCallback } from "./envelope.ts"
import { Ledger } from "./ledger.ts"
import { Journal } from "./outbox/journal.ts"
import * as OpenOutbox from "./outbox/open.ts"
import type * as SqlDrain from "./outbox/sqlDrain.ts"
import * as Prepare from "./prepare.ts"
import * as Reporter from "./reporter.ts"
import { Settlement } from "./settlement.ts"
import * as Transport from "./transport.ts"

export { Envelope, type MessageCallback } from "./envelope.ts"

/** Told once per settled part of a batch: the transport tells the engine, the engine tells its face. */
export type Outcome = Transport.Outcome<Envelope>

/** A call the engine did not accept; `message` is what would have been sent, when the params were valid. */
export interface Refusal {
  readonly error: AnalyticsError
  readonly message: Message.WireMessage | undefined
}

export interface Options {
  readonly options: AnalyticsConfig.Options
  /** Told once per settled part of a batch, after the messages' own callbacks. */
  readonly onSettled?: Outcome | undefined
  readonly observer?: Transport.Observer | undefined
  /**
   * Whether someone already sees this failure or refusal (a callback, a listener, a subscriber): then it is not
   * logged. Without it everything is logged.
   */
  readonly isHandled?: ((kind: "failure" | "refusal", hasCallback: boolean) => boolean) | undefined
  /** Where accepted messages are written before the call returns. Without it they are kept in memory only. */
  readonly outbox?: Outbox.Service | undefined
  /** Checks calls against a tracking plan, whose Schemas' decoded values are sent. */
  readonly trackingPlan?: TrackingPlan.Any | undefined
  /** Changes or drops (`null`) a copy of each message before it is rebuilt, measured and queued (`accept` only). */
  readonly beforeSend?: Prepare.Options["beforeSend"]
  /** The same for `acceptEffect`, run in the caller's fiber (it reads the caller's services and span). */
  readonly beforeSendEffect?: Prepare.Options["beforeSendEffect"]
}

/** An accepted call: the message as it will be sent, and what its receipt waits on. */
export interface Accepted {
  readonly message: Message.WireMessage
  readonly settlement: Settlement
  /** `beforeSend` dropped it: it is settled (as delivered) and nothing is sent. */
  readonly dropped: boolean
}

export interface Engine {
  readonly config: AnalyticsConfig.Resolved
  /** Validates, encodes and queues without waiting, and returns the message as it will be sent. Never throws. */
  readonly accept: (
    type: Message.CallType,
    params: unknown,
    callback?: MessageCallback | undefined
  ) => Result.Result<Accepted, Refusal>
  /**
   * As `accept`, but with `overflow: "suspend"` waits for room instead of failing with `QueueFull`, and runs
   * `beforeSendEffect`.
   */
  readonly acceptEffect: (type: Message.CallType, params: unknown) => Effect.Effect<Accepted, AnalyticsError>
  /** Sends everything accepted so far and completes once it is settled. */
  readonly flush: Effect.Effect<void>
  /**
   * Stops intake, sends everything, waits for in-flight requests and retries, and after the timeout (default
   * `closeTimeout`) abandons what is left with `FlushTimeout`. Idempotent: later calls wait for the first.
   */
  readonly close: (timeout?: Duration.Input | undefined) => Effect.Effect<void>
  /** Messages accepted and not yet settled (with an outbox, those waiting on disk too). */
  readonly pending: () => number
  /** Messages and flush markers waiting in the queue. */
  readonly queued: () => number
  /** Requests in flight. */
  readonly inFlight: () => number
  /** Completes once the consumer cannot go on without something from outside (a gate for tests). */
  readonly caughtUp: Effect.Effect<void>
  /**
   * Whether `accept` has room for a message now, and what completes once it may (or once the client closed): for a
   * producer that waits rather than be refused (the importer).
   */
  readonly hasRoom: () => boolean
  readonly untilRoom: Effect.Effect<void>
}

/**
 * Runs user code (callbacks, listeners). It has no caller to throw to, and its exceptions must never reach the
 * engine's fibers, so they are dropped, as the contract promises a throwing callback is harmless.
 */
export const guard = (run: () => unknown): void => {
  try {
    run()
  } catch {
    // Deliberately dropped: see above.
  }
}

/** A call refused by validation: the error is the caller's (thrown by the facade), and nothing was queued. */
const validationRefusal = (error: ValidationError | MessageTooLarge): Refusal => ({
  error: new AnalyticsError({ reason: error }),
  message: undefined
})

/** How long one cause of failure stays quiet in the log after it was logged. */
const reportIntervalMillis = 60_000

export const make = Effect.fnUntraced(function*(
  options: Options
): Effect.fn.Return<Engine, AnalyticsError, HttpClient.HttpClient | Scope.Scope> {
  const config = yield* Effect.fromResult(AnalyticsConfig.resolve(options.options))
  const clock = yield* Clock.Clock
  const random = yield* Random.Random
  const context = yield* Effect.context<never>()
  const count = (metric: typeof AnalyticsMetrics.enqueued, n: number) => metric.updateUnsafe(n, context)
  const isHandled = options.isHandled ?? (() => false)
  // logLevel "None": nothing is logged, so nothing is prepared for the log either.
  const reporter = config.logLevel === "None" ? Reporter.silent : Reporter.make({
    now: () => clock.currentTimeMillisUnsafe(),
    intervalMillis: reportIntervalMillis,
    log: (level, message, annotations) => {
      let effect = Effect.logWithLevel(level)(message).pipe(
        Effect.annotateLogs(annotations),
        // The built-in console loggers write these to stderr; a logger of the application's own is left alone.
        Effect.provideService(References.LogToStderr, true)
      )
      if (config.logLevel !== undefined) {
        effect = Effect.provideService(effect, References.MinimumLogLevel, config.logLevel)
      }
      Effect.runSyncWith(context)(effect)
    }
  })
  for (const warning of config.unknownOptions) reporter.once(warning, warning)
  const ledger = new Ledger<Envelope>(config.maxQueueSize)
  let closing = false
  // Closing, or the batcher died: no call is accepted any more.
  let stopped = false
  let batcherDied = false
  const now = () => clock.currentTimeMillisUnsafe()

  const fileOutbox = options.outbox?._tag === "File" ? options.outbox : undefined
  const sqlOutbox = options.outbox?._tag === "Sql" ? options.outbox : undefined
  const location = fileOutbox !== undefined ? fileOutbox.path : `table ${sqlOutbox?.table}`
  // A failed outbox operation is told once per kind; what it means for the messages is said with it.
  const outboxTrouble = (what: string, error: unknown) =>
    reporter.once(
      `outbox ${what}`,
      `the outbox in ${location} failed to ${what} (${error instanceof Error ? error.message : String(error)})`
    )
  // A receipt's waiter is ours (a promise's resolve, a fiber's resume): one that throws is a bug, logged once; the
  // others are told all the same.
  const receiptDefect = (defect: unknown) =>
    reporter.once(
      "receipt defect",
      `a receipt could not be told its message's outcome: ${defect instanceof Error ? defect.message : String(defect)}`
    )
  const tell = (settlement: Settlement) => {
    try {
      settlement.notify()
    } catch (defect) {
      receiptDefect(defect)
    }
  }
  const journal = fileOutbox === undefined ? undefined : new Journal(
    yield* OpenOutbox.file(
      fileOutbox,
      (description) => reporter.once(`outbox ${description}`, `the outbox in ${location}: ${description}`)
    )
  )
  // Opened once the dispatcher exists: it hands claimed rows to it.
  let sqlDrain: SqlDrain.Drain | undefined
  // Whether the backlog is still this client's to hand out: not once close gave up or ended, the backlog could not
  // be read, or the batcher died.
  let handingOut = true
  // Why the backlog stopped being handed out before close, when it did: its callbacks are told at close.
  let backlogStopped: AnalyticsError | undefined
  // The highest `seq` a flush waits for: backlog messages handed out up to it are sent at once, not on the interval.
  let flushWanted = 0
  const backlogWaiters: Array<Deferred.Deferred<void>> = []

  /** Moves messages of the backlog into the ledger and the queue, as much as there is room for. */
  const refill = () => {
    if (journal === undefined || !handingOut || journal.backlog === 0 || !ledger.hasRoom()) return
    let envelopes: Array<Envelope>
    try {
      envelopes = journal.take(ledger.capacity - ledger.size, now())
    } catch (error) {
      const what = "read its backlog; what is left in it is sent by the next client that opens it"
      outboxTrouble(what, error)
      stopHandingOut(outboxUnavailable(`it failed to ${what}: ${error instanceof Error ? error.message : error}`))
      envelopes = []
    }
    for (const envelope of envelopes) {
      ledger.add(envelope)
      dispatcher.offer(envelope)
    }
    if (envelopes.length > 0 && flushWanted > ledger.lastSeq - envelopes.length) dispatcher.offerFlush()
    if (journal.backlog === 0) {
      for (const waiter of backlogWaiters.splice(0)) Deferred.doneUnsafe(waiter, Effect.void)
    }
  }

  /** The backlog stays on disk from now on: flushes stop waiting for it, and so does close. */
  const stopHandingOut = (reason: AnalyticsError) => {
    if (!handingOut) return
    handingOut = false
    backlogStopped = reason
    ledger.capFlushes()
    for (const waiter of backlogWaiters.splice(0)) Deferred.doneUnsafe(waiter, Effect.void)
  }

  /** Completes once the backlog is handed out (or will not be any more). */
  const backlogHandedOut = Effect.suspend(() => {
    if (journal === undefined || journal.backlog === 0 || !handingOut) return Effect.void
    const done = Deferred.makeUnsafe<void>()
    backlogWaiters.push(done)
    return Deferred.await(done).pipe(
      Effect.onInterrupt(() => Effect.sync(() => backlogWaiters.splice(backlogWaiters.indexOf(done), 1)))
    )
  })

  /**
   * Settles a part once: removes it from the ledger, records the outcome in the outbox, and tells everyone. `kept`:
   * not settled for good, but left in the outbox for the next client (close gave up, or the batcher died).
   */
  const settle = (part: ReadonlyArray<Envelope>, error: AnalyticsError | undefined, kept = false) => {
    let fresh = 0
    for (const envelope of part) if (envelope.outcome === undefined) fresh++
    if (fresh === 0) return
    const settled = fresh === part.length ? part : part.filter((envelope) => envelope.outcome === undefined)
    for (const envelope of settled) {
      // Recorded now, so nothing can settle it again; its receipts are told after its callback.
      envelope.outcome = error ?? null
      ledger.remove(envelope)
    }
    if (journal !== undefined && !kept) {
      try {
        journal.settle(settled, error !== undefined)
      } catch (failure) {
        outboxTrouble("record outcomes; those messages may be sent again, with the same messageId", failure)
      }
    }
    sqlDrain?.settle(
      settled.map((envelope) => envelope.position as bigint),
      kept ? "kept" : error === undefined ? "delivered" : "failed"
    )
    for (const envelope of settled) {
      const callback = envelope.callback
      if (callback !== undefined) guard(() => callback(error, envelope))
      // Receipts: a promise's reactions run later, an Effect's resume now.
      tell(envelope)
    }
    count(
      kept ? AnalyticsMetrics.kept : error === undefined ? AnalyticsMetrics.delivered : AnalyticsMetrics.failed,
      settled.length
    )
    if (options.onSettled !== undefined) guard(() => options.onSettled!(settled, error))
    if (error !== undefined) {
      const unseen = settled.filter((envelope) => !isHandled("failure", envelope.callback !== undefined))
      if (unseen.length > 0) reporter.failed(unseen, error)
    }
    refill()
    ledger.notify(settled.length)
    sqlDrain?.wake()
  }

  const hooks = options.observer ?? {}
  const transport = yield* Transport.make({
    config,
    observer: {
      onRequest: (retryCount, describe) => {
        if (retryCount > 0) count(AnalyticsMetrics.retried, 1)
        if (config.debug) {
          const { messages, url } = describe()
          reporter.debug(`POST ${url}: ${messages} messages${retryCount > 0 ? `, retry ${retryCount}` : ""}`, {
            messages,
            retryCount
          })
        }
        if (hooks.onRequest !== undefined) guard(() => hooks.onRequest!(retryCount, describe))
      },
      onResponse: (durationMillis, describe) => {
        AnalyticsMetrics.requestLatency.updateUnsafe(Duration.millis(durationMillis), context)
        if (config.debug) {
          const { status } = describe()
          reporter.debug(`${status ?? "no answer"} after ${durationMillis} ms`, { status, durationMillis })
        }
        if (hooks.onResponse !== undefined) guard(() => hooks.onResponse!(durationMillis, describe))
      }
    }
  })

  const dispatcher = yield* Dispatch.make<Envelope>({
    limits: {
      maxEventsInBatch: config.maxEventsInBatch,
      flushIntervalMillis: config.flushIntervalMillis,
      maxBatchBytes: Message.MAX_BATCH_BYTES
    },
    maxConcurrentRequests: config.maxConcurrentRequests,
    // A bug in the batcher: nothing accepted could be sent any more. Everything held fails at once, naming the
    // defect, and the client accepts no more calls.
    onDefect: (defect) => {
      stopped = true
      batcherDied = true
      ledger.close()
      const description = `the batcher stopped on an unexpected defect: ${
        defect instanceof Error ? defect.message : String(defect)
      }${options.outbox === undefined ? "" : "; the messages are kept in the outbox for the next client"}`
      const error = new AnalyticsError({ reason: new TransportError({ description }) })
      stopHandingOut(error)
      settle(ledger.held(), error, options.outbox !== undefined)
    },
    send: (batch) =>
      Effect.suspend(() => {
        AnalyticsMetrics.queueDepth.updateUnsafe(ledger.size, context)
        return transport.send(batch, settle)
      })
  })

  if (sqlOutbox !== undefined) {
    sqlDrain = yield* sqlOutbox.open({
      room: () => ledger.capacity - ledger.size,
      stopped: () => batcherDied,
      adopt: (rows, urgent) => {
        const at = now()
        for (const row of rows) {
          const envelope = new Envelope(row.json, Message.utf8Length(row.json), at, undefined, row.id)
          ledger.add(envelope)
          dispatcher.offer(envelope)
        }
        if (urgent) dispatcher.offerFlush()
      },
      trouble: outboxTrouble
    })
  }

  // The size limit is checked here rather than by the encoder, so a refusal can still show the message.
  const prepare = Prepare.make({
    now: () => clock.currentTimeMillisUnsafe(),
    uuid: () => Message.uuidV4(random),
    strictParams: config.strictParams,
    trackingPlan: options.trackingPlan,
    beforeSend: options.beforeSend,
    beforeSendEffect: options.beforeSendEffect,
    onUnknownKey: (call, key, meant) =>
      reporter.once(
        `${call}.${key}`,
        `a ${call} call has a key "${key}" that ${call} does not have, and it was dropped from the message${
          meant === undefined ? "" : ` (did you mean "${meant}"?)`
        }; with strictParams: true such calls are refused`
      )
  })

  // One instance each: a burst of refused calls (an outage) must not allocate an error per call.
  const clientClosed = new AnalyticsError({ reason: new ClientClosed({}) })
  const queueFull = new AnalyticsError({ reason: new QueueFull({ maxQueueSize: config.maxQueueSize }) })

  // Counted, and logged unless someone sees it (a callback, an error listener).
  const refused = (error: AnalyticsError, message: Message.WireMessage, hasCallback: boolean): Refusal => {
    count(AnalyticsMetrics.dropped, 1)
    if (!isHandled("refusal", hasCallback)) reporter.refused(message.type, error)
    return { error, message }
  }

  /** Validates and builds the message (plan included), before `beforeSend`. */
  const start = (type: Message.CallType, params: unknown): Result.Result<Message.WireMessage, Refusal> => {
    const built = prepare.build(type, params)
    return Result.isFailure(built) ? Result.fail(validationRefusal(built.failure)) : Result.succeed(built.success)
  }

  // Validation comes first, even after close, as in the original: a bad call is the caller's bug either way.
  const finish = (message: Message.WireMessage, hasCallback: boolean): Result.Result<Message.Encoded, Refusal> => {
    const encoded = Message.serialize(message, Infinity)
    if (Result.isFailure(encoded)) return Result.fail(validationRefusal(encoded.failure))
    const { bytes } = encoded.success
    if (stopped) return Result.fail(refused(clientClosed, message, hasCallback))
    if (bytes > Message.MAX_MESSAGE_BYTES) {
      const tooLarge = new MessageTooLarge({ call: message.type, size: bytes, limit: Message.MAX_MESSAGE_BYTES })
      return Result.fail(refused(new AnalyticsError({ reason: tooLarge }), message, hasCallback))
    }
    return Result.succeed(encoded.success)
  }

  /**
   * A message `beforeSend` dropped: settled at once, as delivered, and counted. After close it is refused as any
   * call then is: a drop is no delivery to vouch for.
   */
  const dropped = (message: Message.WireMessage, hasCallback: boolean): Result.Result<Accepted, Refusal> => {
    if (stopped) return Result.fail(refused(clientClosed, message, hasCallback))
    count(AnalyticsMetrics.filtered, 1)
    return Result.succeed({ message, settlement: Settlement.settled(null), dropped: true })
  }

  const outboxFull = fileOutbox === undefined ? queueFull : new AnalyticsError({
    reason: new QueueFull({ maxQueueSize: config.maxQueueSize, outboxMaxBytes: fileOutbox.maxBytes })
  })
  const outboxUnavailable = (error: unknown) =>
    new AnalyticsError({
      reason: new OutboxUnavailable({ location, description: error instanceof Error ? error.message : String(error) })
    })
  // With an outbox, its bytes bound what is accepted; the ledger only bounds what is held in memory.
  const hasRoom = journal === undefined ? () => ledger.hasRoom() : (bytes: number) => journal.hasRoom(bytes)

  const enqueue = (
    encoded: Message.Encoded,
    callback: MessageCallback | undefined
  ): Result.Result<Accepted, Refusal> => {
    let envelope: Envelope | undefined
    let settlement: Settlement
    if (journal === undefined) settlement = envelope = new Envelope(encoded.json, encoded.bytes, now(), callback)
    else {
      try {
        const written = journal.write(encoded.json, encoded.bytes, now(), callback, ledger.hasRoom())
        envelope = written.envelope
        settlement = written.settlement
      } catch (error) {
        return Result.fail(refused(outboxUnavailable(error), encoded.message, callback !== undefined))
      }
    }
    // Without room in memory, it waits in the outbox's backlog.
    if (envelope !== undefined) {
      ledger.add(envelope)
      dispatcher.offer(envelope)
    }
    count(AnalyticsMetrics.enqueued, 1)
    return Result.succeed({ message: encoded.message, settlement, dropped: false })
  }

  const enqueueIfRoom = (
    encoded: Message.Encoded,
    callback: MessageCallback | undefined
  ): Result.Result<Accepted, Refusal> =>
    hasRoom(encoded.bytes)
      ? enqueue(encoded, callback)
      : Result.fail(refused(outboxFull, encoded.message, callback !== undefined))

  // A PostgreSQL outbox is written by an Effect (in the caller's transaction); a synchronous call cannot wait for it.
  const sqlOnly = outboxUnavailable("a PostgreSQL outbox takes calls through the Effect API only")

  const accept: Engine["accept"] = (type, params, callback) => {
    const started = start(type, params)
    if (Result.isFailure(started)) return Result.fail(started.failure)
    const changed = prepare.beforeSend(type, started.success)
    if (Result.isFailure(changed)) return Result.fail(validationRefusal(changed.failure))
    if (changed.success === null) return dropped(started.success, callback !== undefined)
    const prepared = finish(changed.success, callback !== undefined)
    if (Result.isFailure(prepared)) return Result.fail(prepared.failure)
    if (sqlOutbox !== undefined) return Result.fail(refused(sqlOnly, prepared.success.message, callback !== undefined))
    return enqueueIfRoom(prepared.success, callback)
  }

  // The outbox's bytes are freed only as messages settle: wait for the next one and look again.
  const untilRoom = journal === undefined ? ledger.untilRoom : ledger.nextRemoval

  const waitForRoom = (encoded: Message.Encoded): Effect.Effect<Accepted, AnalyticsError> =>
    Effect.suspend(() => {
      if (stopped) return Effect.fail(refused(clientClosed, encoded.message, false).error)
      if (hasRoom(encoded.bytes)) return Effect.mapError(Effect.fromResult(enqueue(encoded, undefined)), (r) => r.error)
      return Effect.andThen(untilRoom, waitForRoom(encoded))
    })

  // A caller interrupted while it waited may have been woken for room it will not take: it passes the turn on.
  const acceptWhenRoom = (encoded: Message.Encoded) =>
    waitForRoom(encoded).pipe(Effect.onInterrupt(() => Effect.sync(() => ledger.passRoom())))

  // Any process may send a row of a PostgreSQL outbox: this client cannot follow its outcome.
  const unfollowable = Settlement.settled(outboxUnavailable(
    "a receipt cannot follow a message of a PostgreSQL outbox: any process may send it (it is stored, and the outbox delivers it)"
  ))

  // The row is inserted by the caller's fiber, so inside `sql.withTransaction` it is part of that transaction.
  const insert = (encoded: Message.Encoded) =>
    sqlDrain!.insert(encoded.json).pipe(
      Effect.mapError((error) => refused(outboxUnavailable(error), encoded.message, false).error),
      Effect.andThen(Effect.sync((): Accepted => {
        count(AnalyticsMetrics.enqueued, 1)
        return { message: encoded.message, settlement: unfollowable, dropped: false }
      }))
    )

  const queueEncoded = (encoded: Message.Encoded): Effect.Effect<Accepted, AnalyticsError> =>
    sqlOutbox !== undefined
      ? insert(encoded)
      : config.overflow === "suspend"
      ? acceptWhenRoom(encoded)
      : Effect.suspend(() => Effect.mapError(Effect.fromResult(enqueueIfRoom(encoded, undefined)), (r) => r.error))

  /** The rest of a call once `beforeSend` has had its say (`null`: dropped): measured and queued. */
  const afterBeforeSend = (
    original: Message.WireMessage,
    changed: Message.WireMessage | null
  ): Effect.Effect<Accepted, AnalyticsError> => {
    if (changed === null) return Effect.mapError(Effect.fromResult(dropped(original, false)), (r) => r.error)
    const prepared = finish(changed, false)
    return Result.isFailure(prepared) ? Effect.fail(prepared.failure.error) : queueEncoded(prepared.success)
  }

  const acceptEffect: Engine["acceptEffect"] = (type, params) =>
    Effect.suspend(() => {
      const started = start(type, params)
      if (Result.isFailure(started)) return Effect.fail(started.failure.error)
      const message = started.success
      if (options.beforeSendEffect === undefined) return afterBeforeSend(message, message)
      return Effect.flatMap(
        Effect.mapError(prepare.beforeSendEffect(type, message), (invalid) => validationRefusal(invalid).error),
        (changed) => afterBeforeSend(message, changed)
      )
    })

  // Everything accepted so far: what the ledger was given, and the backlog, which it is given next, in order.
  const lastAccepted = () => ledger.lastSeq + (journal?.backlog ?? 0)

  // Sends what this client holds now, and waits until it is settled.
  const settledSoFar = Effect.suspend(() => {
    dispatcher.offerFlush()
    return ledger.settledThrough(ledger.lastSeq)
  })

  const flush = Effect.suspend(() => {
    // PostgreSQL: every row inserted so far (by anyone) that no other drainer holds is claimed and settled.
    if (sqlDrain !== undefined) return stopped ? settledSoFar : sqlDrain.drain(settledSoFar)
    const seq = handingOut ? lastAccepted() : ledger.lastSeq
    flushWanted = Math.max(flushWanted, seq)
    if (!stopped) dispatcher.offerFlush()
    return ledger.settledThrough(seq)
  })

  const closed = Deferred.makeUnsafe<void>()
  // With an outbox, what close cannot send is kept for the next client rather than given up.
  const keeps = options.outbox !== undefined

  const flushTimeout = (timeoutMillis: number, last: AnalyticsError | undefined) =>
    new AnalyticsError({
      reason: new FlushTimeout({
        timeoutMillis,
        ...(last === undefined ? {} : { lastError: last.message }),
        ...(keeps ? { kept: true } : {})
      })
    })

  /** The backlog stays on disk: callers waiting on its messages are told why; the rest are counted and logged once. */
  const keepBacklog = (backlog: Journal, reason: AnalyticsError) => {
    handingOut = false
    const awaited = backlog.awaited(reason, receiptDefect)
    for (const envelope of awaited) ledger.add(envelope)
    settle(awaited, reason, true)
    const onDiskOnly = backlog.backlog - awaited.length
    if (onDiskOnly === 0) return
    count(AnalyticsMetrics.kept, onDiskOnly)
    reporter.once(
      "outbox kept",
      `${Reporter.plural(onDiskOnly, "message", "messages")} waiting on disk in the outbox in ${backlog.directory} ${
        onDiskOnly === 1 ? "was" : "were"
      } not sent before close: they stay there for the next client that opens it`
    )
  }

  const close = (timeoutMillis: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (closing) return Deferred.await(closed)
      closing = true
      stopped = true
      // Whoever waits for room now gets ClientClosed; nothing new can be accepted.
      ledger.close()
      if (journal !== undefined) {
        // What the backlog hands out from now on is sent at once.
        flushWanted = Infinity
        dispatcher.offerFlush()
      }
      return Effect.gen(function*() {
        if (sqlDrain !== undefined) yield* sqlDrain.stopClaiming
        const finished = yield* backlogHandedOut.pipe(
          Effect.andThen(sqlDrain === undefined ? Effect.void : sqlDrain.drain(settledSoFar)),
          Effect.andThen(dispatcher.end),
          Effect.andThen(dispatcher.done),
          Effect.andThen(ledger.empty),
          // close itself is uninterruptible; the wait inside must stay interruptible for the timeout to cut it off.
          Effect.interruptible,
          Effect.timeoutOption(Duration.millis(timeoutMillis))
        )
        yield* dispatcher.stop
        if (Option.isNone(finished)) {
          handingOut = false
          // Queued, batched, waiting for a slot or in flight: the ledger has them all. Each is told what its last
          // attempt got, if one had finished. With an outbox, nothing is given up: it stays for the next client.
          const byLastError = new Map<AnalyticsError | undefined, Array<Envelope>>()
          for (const envelope of ledger.held()) {
            const part = byLastError.get(envelope.lastError)
            if (part === undefined) byLastError.set(envelope.lastError, [envelope])
            else part.push(envelope)
          }
          for (const [last, part] of byLastError) settle(part, flushTimeout(timeoutMillis, last), keeps)
        }
        if (journal !== undefined && journal.backlog > 0) {
          keepBacklog(journal, backlogStopped ?? flushTimeout(timeoutMillis, undefined))
        }
        // Nothing is settled any more: a flush still waiting (for messages kept in the outbox) returns, and what is
        // kept on disk is no longer this client's.
        ledger.end()
        handingOut = false
        // Rows left are released for other drainers; outcomes not yet written get what is left of a short grace.
        if (sqlDrain !== undefined) yield* sqlDrain.finish(Math.min(5_000, Math.max(timeoutMillis, 1_000)))
        reporter.flush()
      }).pipe(Effect.ensuring(Deferred.succeed(closed, undefined)), Effect.uninterruptible)
    })

  if (journal !== undefined) {
    const { corrupt, replayed } = journal.log
    if (corrupt > 0) {
      reporter.once(
        "outbox corrupt",
        `${
          Reporter.plural(corrupt, "damaged or torn record", "damaged or torn records")
        } in the outbox in ${journal.directory} ${
          corrupt === 1 ? "was" : "were"
        } skipped (a crash in the middle of a write, or a damaged disk)`
      )
    }
    if (replayed > 0) {
      reporter.info(
        `the outbox in ${journal.directory} holds ${
          Reporter.plural(replayed, "message", "messages")
        } not yet delivered: they are sent first`,
        { replayed }
      )
    }
    // Before any new call: they were accepted first.
    refill()
  }

  // Added after the consumer was forked: finalizers run last-in first-out, so this drains before it is interrupted.
  yield* Effect.addFinalizer(() => close(config.closeTimeoutMillis))

  return {
    config,
    accept,
    acceptEffect,
    flush,
    close: (timeout) =>
      close(timeout === undefined ? config.closeTimeoutMillis : Duration.toMillis(Duration.fromInputUnsafe(timeout))),
    pending: () => ledger.size + (journal !== undefined && handingOut ? journal.backlog : 0),
    queued: dispatcher.queued,
    inFlight: dispatcher.inFlight,
    caughtUp: dispatcher.caughtUp,
    hasRoom: () => !stopped && ledger.hasRoom(),
    untilRoom: Effect.suspend(() => stopped ? Effect.void : ledger.untilRoom)
  }
})
