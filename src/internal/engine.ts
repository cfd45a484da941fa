/**
 * The engine both faces share: validate and encode a call once, record it in the ledger, queue it, batch it, send
 * it, and settle every accepted message exactly once (delivered, finally failed, or abandoned at the close timeout).
 *
 * Exactly once by construction: a message enters the ledger when it is accepted and leaves it when it is settled,
 * and settling marks it so it can never be settled again. Whatever a fiber held when it was interrupted is still in
 * the ledger, so close abandons exactly what is left. `maxQueueSize` bounds the ledger, hence everything accepted and
 * not yet settled: queued, being batched, waiting for a request slot or in flight.
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
  QueueFull,
  TransportError
} from "../AnalyticsError.ts"
import * as AnalyticsMetrics from "../AnalyticsMetrics.ts"
import * as Message from "../Message.ts"
import * as Dispatch from "./batcher/dispatch.ts"
import { Ledger } from "./ledger.ts"
import * as Reporter from "./reporter.ts"
import * as Transport from "./transport.ts"

/** Told once per settled part of a batch: the transport tells the engine, the engine tells its face. */
export type Outcome = Transport.Outcome<Envelope>

/** Told once when its own message is settled; a promise it returns is the facade's to wait for at close. */
export type MessageCallback = (error: AnalyticsError | undefined, envelope: Envelope) => unknown

/**
 * An accepted message: its JSON (encoded once), its size, and who to tell when it is settled.
 *
 * Only the JSON is kept, not the message object (nor, through it, the caller's properties): a queued message is
 * then one flat string, half the heap of the object graph, and the garbage collector has one object to move
 * instead of a tree. The few who need the message (callbacks, event listeners, failures) get it parsed back from
 * that JSON, which is exactly what was sent.
 */
export class Envelope implements Dispatch.Item, Transport.Payload {
  readonly json: string
  readonly bytes: number
  readonly enqueuedAt: number
  readonly callback: MessageCallback | undefined
  settled = false
  lastError: AnalyticsError | undefined = undefined
  // The ledger's fields.
  seq = 0
  prev: Envelope | undefined = undefined
  next: Envelope | undefined = undefined
  #message: Message.WireMessage | undefined
  constructor(encoded: Message.Encoded, enqueuedAt: number, callback: MessageCallback | undefined) {
    this.json = encoded.json
    this.bytes = encoded.bytes
    this.enqueuedAt = enqueuedAt
    this.callback = callback
  }
  /** The message as sent, parsed from its JSON on first use. */
  get message(): Message.WireMessage {
    return this.#message ??= JSON.parse(this.json)
  }
}

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
}

export interface Engine {
  readonly config: AnalyticsConfig.Resolved
  /** Validates, encodes and queues without waiting, and returns the message as it will be sent. Never throws. */
  readonly accept: (
    type: Message.CallType,
    params: unknown,
    callback?: MessageCallback | undefined
  ) => Result.Result<Message.WireMessage, Refusal>
  /** As `accept`, but with `overflow: "suspend"` waits for room instead of failing with `QueueFull`. */
  readonly acceptEffect: (type: Message.CallType, params: unknown) => Effect.Effect<Message.WireMessage, AnalyticsError>
  /** Sends everything accepted so far and completes once it is settled. */
  readonly flush: Effect.Effect<void>
  /**
   * Stops intake, sends everything, waits for in-flight requests and retries, and after the timeout (default
   * `closeTimeout`) abandons what is left with `FlushTimeout`. Idempotent: later calls wait for the first.
   */
  readonly close: (timeout?: Duration.Input | undefined) => Effect.Effect<void>
  /** Messages accepted and not yet settled. */
  readonly pending: () => number
  /** Messages and flush markers waiting in the queue. */
  readonly queued: () => number
  /** Requests in flight. */
  readonly inFlight: () => number
  /** Completes once the consumer cannot go on without something from outside (a gate for tests). */
  readonly caughtUp: Effect.Effect<void>
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

  const settle: Outcome = (part, error) => {
    let fresh = 0
    for (const envelope of part) if (!envelope.settled) fresh++
    if (fresh === 0) return
    const settled = fresh === part.length ? part : part.filter((envelope) => !envelope.settled)
    for (const envelope of settled) {
      envelope.settled = true
      ledger.remove(envelope)
    }
    for (const envelope of settled) {
      const callback = envelope.callback
      if (callback !== undefined) guard(() => callback(error, envelope))
    }
    count(error === undefined ? AnalyticsMetrics.delivered : AnalyticsMetrics.failed, settled.length)
    if (options.onSettled !== undefined) guard(() => options.onSettled!(settled, error))
    if (error !== undefined) {
      const unseen = settled.filter((envelope) => !isHandled("failure", envelope.callback !== undefined))
      if (unseen.length > 0) reporter.failed(unseen, error)
    }
    ledger.notify(settled.length)
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
      ledger.close()
      const description = `the batcher stopped on an unexpected defect: ${
        defect instanceof Error ? defect.message : String(defect)
      }`
      settle(ledger.held(), new AnalyticsError({ reason: new TransportError({ description }) }))
    },
    send: (batch) =>
      Effect.suspend(() => {
        AnalyticsMetrics.queueDepth.updateUnsafe(ledger.size, context)
        return transport.send(batch, settle)
      })
  })

  // The size limit is checked here rather than by the encoder, so a refusal can still show the message.
  const encode = Message.makeEncoder({
    now: () => clock.currentTimeMillisUnsafe(),
    uuid: () => Message.uuidV4(random),
    maxMessageBytes: Infinity,
    strictParams: config.strictParams,
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

  // Validation comes first, even after close, as in the original: a bad call is the caller's bug either way.
  const prepare = (
    type: Message.CallType,
    params: unknown,
    hasCallback: boolean
  ): Result.Result<Message.Encoded, Refusal> => {
    const encoded = encode(type, params)
    if (Result.isFailure(encoded)) {
      return Result.fail({ error: new AnalyticsError({ reason: encoded.failure }), message: undefined })
    }
    const { message, bytes } = encoded.success
    if (stopped) return Result.fail(refused(clientClosed, message, hasCallback))
    if (bytes > Message.MAX_MESSAGE_BYTES) {
      const tooLarge = new MessageTooLarge({ call: type, size: bytes, limit: Message.MAX_MESSAGE_BYTES })
      return Result.fail(refused(new AnalyticsError({ reason: tooLarge }), message, hasCallback))
    }
    return Result.succeed(encoded.success)
  }

  const enqueue = (encoded: Message.Encoded, callback: MessageCallback | undefined): Message.WireMessage => {
    const envelope = new Envelope(encoded, clock.currentTimeMillisUnsafe(), callback)
    ledger.add(envelope)
    dispatcher.offer(envelope)
    count(AnalyticsMetrics.enqueued, 1)
    return encoded.message
  }

  const accept: Engine["accept"] = (type, params, callback) => {
    const prepared = prepare(type, params, callback !== undefined)
    if (Result.isFailure(prepared)) return Result.fail(prepared.failure)
    if (!ledger.hasRoom()) return Result.fail(refused(queueFull, prepared.success.message, callback !== undefined))
    return Result.succeed(enqueue(prepared.success, callback))
  }

  const waitForRoom = (encoded: Message.Encoded): Effect.Effect<Message.WireMessage, AnalyticsError> =>
    Effect.suspend(() => {
      if (stopped) return Effect.fail(refused(clientClosed, encoded.message, false).error)
      if (ledger.hasRoom()) return Effect.succeed(enqueue(encoded, undefined))
      return Effect.andThen(ledger.untilRoom, waitForRoom(encoded))
    })

  // A caller interrupted while it waited may have been woken for room it will not take: it passes the turn on.
  const acceptWhenRoom = (encoded: Message.Encoded) =>
    waitForRoom(encoded).pipe(Effect.onInterrupt(() => Effect.sync(() => ledger.passRoom())))

  const acceptEffect: Engine["acceptEffect"] = config.overflow === "fail"
    ? (type, params) => Effect.suspend(() => Effect.mapError(Effect.fromResult(accept(type, params)), (r) => r.error))
    : (type, params) =>
      Effect.suspend(() => {
        const prepared = prepare(type, params, false)
        return Result.isFailure(prepared) ? Effect.fail(prepared.failure.error) : acceptWhenRoom(prepared.success)
      })

  const flush = Effect.suspend(() => {
    const seq = ledger.lastSeq
    if (!stopped) dispatcher.offerFlush()
    return ledger.settledThrough(seq)
  })

  const closed = Deferred.makeUnsafe<void>()

  const close = (timeoutMillis: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (closing) return Deferred.await(closed)
      closing = true
      stopped = true
      // Whoever waits for room now gets ClientClosed; nothing new can be accepted.
      ledger.close()
      return Effect.gen(function*() {
        yield* dispatcher.end
        const finished = yield* Effect.andThen(dispatcher.done, ledger.empty).pipe(
          // close itself is uninterruptible; the wait inside must stay interruptible for the timeout to cut it off.
          Effect.interruptible,
          Effect.timeoutOption(Duration.millis(timeoutMillis))
        )
        yield* dispatcher.stop
        if (Option.isNone(finished)) {
          // Queued, batched, waiting for a slot or in flight: the ledger has them all. Each is told what its last
          // attempt got, if one had finished.
          const byLastError = new Map<AnalyticsError | undefined, Array<Envelope>>()
          for (const envelope of ledger.held()) {
            const part = byLastError.get(envelope.lastError)
            if (part === undefined) byLastError.set(envelope.lastError, [envelope])
            else part.push(envelope)
          }
          for (const [last, part] of byLastError) {
            const reason = new FlushTimeout({
              timeoutMillis,
              ...(last === undefined ? {} : { lastError: last.message })
            })
            settle(part, new AnalyticsError({ reason }))
          }
        }
        reporter.flush()
      }).pipe(Effect.ensuring(Deferred.succeed(closed, undefined)), Effect.uninterruptible)
    })

  // Added after the consumer was forked: finalizers run last-in first-out, so this drains before it is interrupted.
  yield* Effect.addFinalizer(() => close(config.closeTimeoutMillis))

  return {
    config,
    accept,
    acceptEffect,
    flush,
    close: (timeout) =>
      close(timeout === undefined ? config.closeTimeoutMillis : Duration.toMillis(Duration.fromInputUnsafe(timeout))),
    pending: () => ledger.size,
    queued: dispatcher.queued,
    inFlight: dispatcher.inFlight,
    caughtUp: dispatcher.caughtUp
  }
})
