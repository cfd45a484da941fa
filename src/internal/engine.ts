/**
 * The engine both faces share: encode a call once, queue it, batch it, send it, and settle every accepted message
 * exactly once (delivered, finally failed, or abandoned at the close timeout).
 *
 * `AnalyticsClient` wraps it in Effects; the Promise facade `Analytics` calls its synchronous `accept` directly, so
 * a call costs no fiber, Promise or runtime round-trip.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as AnalyticsConfig from "../AnalyticsConfig.ts"
import { AnalyticsError, ClientClosed, FlushTimeout, QueueFull, TransportError } from "../AnalyticsError.ts"
import * as AnalyticsMetrics from "../AnalyticsMetrics.ts"
import * as Batcher from "../Batcher.ts"
import * as Message from "../Message.ts"
import * as Transport from "../Transport.ts"

/** Called once per accepted message when it is settled; `error` is `undefined` when it was delivered. */
export type Callback = (error: AnalyticsError | undefined, message: Message.WireMessage) => void

/**
 * A queued message: its JSON (encoded once), its size, and who to tell when it is settled.
 *
 * Only the JSON is kept, not the message object (nor, through it, the caller's properties): a queued message is
 * then one flat string, half the heap of the object graph, and the garbage collector has one object to move
 * instead of a tree. The few who need the message (callbacks, event listeners, failures) get it parsed back from
 * that JSON, which is exactly what was sent.
 */
export class Envelope implements Batcher.Queued, Transport.Payload {
  readonly json: string
  readonly bytes: number
  readonly enqueuedAt: number
  readonly callback: Callback | undefined
  settled = false
  #message: Message.WireMessage | undefined
  constructor(encoded: Message.Encoded, enqueuedAt: number, callback: Callback | undefined) {
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

export interface Hooks {
  /** Told once per settled part of a batch, after the messages' own callbacks. */
  readonly onSettled?: ((messages: ReadonlyArray<Envelope>, error: AnalyticsError | undefined) => void) | undefined
  readonly observer?: Transport.Observer | undefined
}

export interface Engine {
  readonly config: AnalyticsConfig.Resolved
  /** Validates, encodes and queues without waiting, and returns the message as it will be sent. Never throws. */
  readonly accept: (
    type: Message.CallType,
    params: unknown,
    callback?: Callback | undefined
  ) => Result.Result<Message.WireMessage, AnalyticsError>
  /** As `accept`, but with `overflow: "suspend"` waits for room instead of failing with `QueueFull`. */
  readonly acceptEffect: (type: Message.CallType, params: unknown) => Effect.Effect<Message.WireMessage, AnalyticsError>
  readonly flush: Effect.Effect<void>
  readonly close: (timeout?: Duration.Input | undefined) => Effect.Effect<void>
  readonly isClosed: () => boolean
  readonly queued: () => number
  readonly inFlight: () => number
}

const guard = (run: () => void) => {
  try {
    run()
  } catch {
    // User code (callbacks, listeners) runs here. It has no caller to throw to, and its exceptions must never
    // reach the engine's fibers, so they are dropped, as the contract promises a throwing callback is harmless.
  }
}

const describe = (defect: unknown): string =>
  `unexpected defect: ${defect instanceof Error ? defect.message : String(defect)}`

const fail = (reason: AnalyticsError["reason"]) => Result.fail(new AnalyticsError({ reason }))

export const make = Effect.fnUntraced(function*(
  options: AnalyticsConfig.Options,
  hooks: Hooks = {}
): Effect.fn.Return<Engine, AnalyticsError, HttpClient.HttpClient | Scope.Scope> {
  const config = yield* Effect.fromResult(AnalyticsConfig.resolve(options))
  const clock = yield* Clock.Clock
  const random = yield* Random.Random
  const metrics = yield* Effect.context<never>()
  const count = (metric: typeof AnalyticsMetrics.enqueued, n: number) => metric.updateUnsafe(n, metrics)

  const settle = (part: ReadonlyArray<Envelope>, error: AnalyticsError | undefined) => {
    const fresh = part.filter((envelope) => !envelope.settled)
    if (fresh.length === 0) return
    for (const envelope of fresh) {
      envelope.settled = true
      const callback = envelope.callback
      if (callback !== undefined) guard(() => callback(error, envelope.message))
    }
    count(error === undefined ? AnalyticsMetrics.delivered : AnalyticsMetrics.failed, fresh.length)
    if (hooks.onSettled !== undefined) guard(() => hooks.onSettled!(fresh, error))
  }

  const observer: Transport.Observer = {
    onRequest: (request) => {
      if (request.retryCount > 0) count(AnalyticsMetrics.retried, 1)
      if (hooks.observer?.onRequest !== undefined) guard(() => hooks.observer!.onRequest!(request))
    },
    onResponse: (response) => {
      AnalyticsMetrics.requestLatency.updateUnsafe(Duration.millis(response.durationMillis), metrics)
      if (hooks.observer?.onResponse !== undefined) guard(() => hooks.observer!.onResponse!(response))
    }
  }
  const transport = yield* Transport.make(config, observer)

  const queue: Batcher.Batcher<Envelope> = yield* Batcher.make<Envelope>(
    config,
    (batch) =>
      Effect.suspend(() => {
        AnalyticsMetrics.queueDepth.updateUnsafe(queue.queued(), metrics)
        return transport.send(batch, settle)
      }).pipe(
        // A defect (a broken HttpClient layer, a bug) must still settle every message, never strand it.
        Effect.catchDefect((defect) =>
          Effect.sync(() =>
            settle(batch, new AnalyticsError({ reason: new TransportError({ description: describe(defect) }) }))
          )
        )
      ),
    (messages, timeoutMillis) => settle(messages, new AnalyticsError({ reason: new FlushTimeout({ timeoutMillis }) }))
  )

  const encode = Message.makeEncoder({
    now: () => clock.currentTimeMillisUnsafe(),
    uuid: () => Message.uuidV4(random)
  })

  // One instance each: a refusal carries nothing of the call, and a burst of refused calls (an outage) must not
  // allocate, or hold until it is reported, an error per call.
  const clientClosed = new AnalyticsError({ reason: new ClientClosed({}) })
  const queueFull = new AnalyticsError({ reason: new QueueFull({ maxQueueSize: config.maxQueueSize }) })

  const refuse = (error: AnalyticsError) => {
    count(AnalyticsMetrics.dropped, 1)
    return Result.fail(error)
  }

  const prepare = (type: Message.CallType, params: unknown): Result.Result<Message.Encoded, AnalyticsError> => {
    if (queue.isClosed()) return refuse(clientClosed)
    const encoded = encode(type, params)
    if (Result.isFailure(encoded)) {
      // A validation error is the caller's bug, reported to the caller alone; a too-large message is dropped data.
      if (encoded.failure._tag === "MessageTooLarge") count(AnalyticsMetrics.dropped, 1)
      return fail(encoded.failure)
    }
    return Result.succeed(encoded.success)
  }

  // The message goes back to the caller; the queue keeps only the envelope.
  const envelope = (encoded: Message.Encoded, callback: Callback | undefined) =>
    new Envelope(encoded, clock.currentTimeMillisUnsafe(), callback)

  const accepted = (message: Message.WireMessage) => {
    count(AnalyticsMetrics.enqueued, 1)
    return Result.succeed(message)
  }

  const accept: Engine["accept"] = (type, params, callback) => {
    const prepared = prepare(type, params)
    if (Result.isFailure(prepared)) return Result.fail(prepared.failure)
    if (queue.offerUnsafe(envelope(prepared.success, callback))) return accepted(prepared.success.message)
    return queue.isClosed()
      ? refuse(clientClosed)
      : refuse(queueFull)
  }

  const acceptEffect: Engine["acceptEffect"] = config.overflow === "fail"
    ? (type, params) => Effect.suspend(() => Effect.fromResult(accept(type, params)))
    : (type, params) =>
      Effect.suspend(() => {
        const prepared = prepare(type, params)
        if (Result.isFailure(prepared)) return Effect.fail(prepared.failure)
        return Effect.flatMap(queue.offer(envelope(prepared.success, undefined)), (ok) =>
          Effect.fromResult(
            ok ? accepted(prepared.success.message) : refuse(clientClosed)
          ))
      })

  return {
    config,
    accept,
    acceptEffect,
    flush: queue.flush,
    close: (timeout) =>
      queue.close(
        timeout === undefined ? config.closeTimeoutMillis : Duration.toMillis(Duration.fromInputUnsafe(timeout))
      ),
    isClosed: queue.isClosed,
    queued: queue.queued,
    inFlight: queue.inFlight
  }
})
