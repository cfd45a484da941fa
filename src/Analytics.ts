/**
 * The Promise facade: `new Analytics({ writeKey })`, a drop-in replacement for `@customerio/cdp-analytics-node`
 * (and `@segment/analytics-node`) for applications that do not use Effect.
 *
 * It owns a `ManagedRuntime` built from the same engine as `AnalyticsClient`. A call validates and queues
 * synchronously (no Promise, fiber or runtime round-trip per call) and throws a `ValidationError` for bad params,
 * as the original does; delivery outcomes reach the per-call callback and the events.
 *
 * @since 0.1.0
 */
import * as EffectContext from "effect/Context"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as AnalyticsConfig from "./AnalyticsConfig.ts"
import { AnalyticsError, ValidationError } from "./AnalyticsError.ts"
import * as DefaultHttpClient from "./internal/defaultHttpClient.ts"
import * as Engine from "./internal/engine.ts"
import { Settlement } from "./internal/settlement.ts"
import type * as Transport from "./internal/transport.ts"
import { libraryVersion } from "./internal/version.ts"
import type * as Message from "./Message.ts"
import * as Outbox from "./Outbox.ts"
import * as TrackingPlan from "./TrackingPlan.ts"

/**
 * The constructor's options: the original's names (`writeKey`, `host`, `path`, `maxEventsInBatch`,
 * `flushInterval`, `maxRetries`, `httpRequestTimeout`, `disable`) plus this library's (`region`, `maxQueueSize`,
 * `maxConcurrentRequests`, `compression`, `strictMode`, `closeTimeout`, `httpClientLayer`). Durations are in
 * milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export interface AnalyticsSettings<Plan extends TrackingPlan.Any | undefined = undefined> {
  readonly writeKey: string
  readonly host?: string | undefined
  readonly path?: string | undefined
  readonly region?: AnalyticsConfig.Region | undefined
  readonly maxEventsInBatch?: number | undefined
  readonly flushInterval?: number | undefined
  readonly maxRetries?: number | undefined
  readonly httpRequestTimeout?: number | undefined
  readonly maxQueueSize?: number | undefined
  readonly maxConcurrentRequests?: number | undefined
  readonly disable?: boolean | undefined
  readonly compression?: "gzip" | "none" | undefined
  readonly strictMode?: boolean | undefined
  /** The default timeout of `closeAndFlush`. @default 75000 */
  readonly closeTimeout?: number | undefined
  /**
   * The least severe log line written to stderr. Failures and refusals that no callback or `error` listener sees
   * are logged as `"Warn"`, once per cause and minute; `"None"` silences the client. @default "Info"
   */
  readonly logLevel?: AnalyticsConfig.Options["logLevel"]
  /** Logs every request and answer (the write key redacted). @default false */
  readonly debug?: boolean | undefined
  /** A params key the call does not have (`propertes`) throws a `ValidationError` instead of being dropped. @default false */
  readonly strictParams?: boolean | undefined
  /**
   * The Effect `HttpClient` to send with, e.g. `NodeHttpClient.layerUndiciOptions({...})` from
   * `@effect/platform-node` for a proxy, or `FetchHttpClient.layer`. @default node:http with keep-alive sockets, one
   * per `maxConcurrentRequests` (`fetch` where `node:http` does not exist)
   */
  readonly httpClientLayer?: Layer.Layer<HttpClient.HttpClient> | undefined
  /**
   * A durable outbox: each call returns only once its message is written to this directory, so a crash loses
   * nothing, and what a crashed or timed-out client left there is sent first (see docs/outbox.md). One client per
   * directory. @default none: messages are kept in memory only
   */
  readonly outbox?: Outbox.FileOptions | undefined
  /**
   * Types the calls (`track` takes only the plan's events, each with its own properties) and checks them at run
   * time: a call that breaks the plan throws a `ValidationError` naming the path (see docs/tracking-plan.md).
   */
  readonly trackingPlan?: Plan
  /**
   * Runs on a copy of every message (changing it in place is safe) just before it is sent: return it (changed or not)
   * to send it, or `null` to drop it (its callback then runs without an error, its receipt resolves, and
   * `AnalyticsMetrics.filtered` counts it). What it returns is rebuilt as a call's params are (checked, normalized,
   * keys of no field dropped, the tracking plan applied again) and measured. Synchronous; a `beforeSend` that throws
   * makes the call throw a `ValidationError`.
   */
  readonly beforeSend?: ((message: Message.WireMessage) => Message.WireMessage | null) | undefined
}

/**
 * What every call returns (the original returns `undefined`, so code written for it is unaffected).
 *
 * @category models
 * @since 0.1.0
 */
export class Receipt {
  /** The message's id, as sent. */
  readonly messageId: string
  readonly #settlement: Settlement
  #delivered: Promise<void> | undefined

  /** @internal */
  constructor(messageId: string, settlement: Settlement) {
    this.messageId = messageId
    this.#settlement = settlement
  }

  /**
   * Resolves once the API has answered 2xx for the batch that held the message (or at once if `beforeSend`
   * dropped it); rejects with the `AnalyticsError` that ended it (a final status, retries used up, the close
   * timeout, a refusal). Made on first access: a receipt nobody reads costs no promise, and cannot cause an
   * unhandled rejection.
   */
  get delivered(): Promise<void> {
    return this.#delivered ??= new Promise((resolve, reject) => {
      this.#settlement.watch((outcome) => outcome === null ? resolve() : reject(outcome))
    })
  }
}

export type { AliasParams, GroupParams, IdentifyParams, PageParams, ScreenParams, TrackParams } from "./Message.ts"

/**
 * What callbacks and events receive about one message (the original library's `Context`). `event` is the message
 * exactly as it was sent.
 *
 * @category models
 * @since 0.1.0
 */
export class CallContext {
  readonly event: Message.WireMessage
  readonly #failure: AnalyticsError | undefined
  constructor(event: Message.WireMessage, failure?: AnalyticsError) {
    this.event = event
    this.#failure = failure
  }
  /** The `messageId` of the event. */
  get id(): string {
    return this.event.messageId
  }
  /** The reason delivery failed, if it did. */
  failedDelivery(): { readonly reason: AnalyticsError } | undefined {
    return this.#failure === undefined ? undefined : { reason: this.#failure }
  }
  toJSON() {
    return { id: this.id, event: this.event }
  }
}

/**
 * Called exactly once per call: after delivery (`err` undefined), after the final failure, or, for a call refused
 * after validation (queue full, too large, after close), once the call has returned, with `ctx` undefined. A
 * promise it returns is waited for by `closeAndFlush`.
 *
 * @category models
 * @since 0.1.0
 */
export type Callback = (err: AnalyticsError | undefined, ctx: CallContext | undefined) => void

export { ValidationError }

/**
 * `code` of an `error` event.
 *
 * @category models
 * @since 0.1.0
 */
export type ErrorCode =
  | "delivery_failure"
  | "message_too_large"
  | "queue_full"
  | "flush_timeout"
  | "call_after_close"
  /** The outbox refused to store the call (the disk is full, or failed). */
  | "outbox_unavailable"

/**
 * @category models
 * @since 0.1.0
 */
export interface EmittedError {
  readonly code: ErrorCode
  readonly reason: AnalyticsError
  /** The message concerned: for a delivery failure or a flush timeout, and for a refused call, the message refused. */
  readonly ctx?: CallContext | undefined
}

/**
 * An HTTP attempt, as the `http_request` event shows it; the `Authorization` header is redacted.
 *
 * @category models
 * @since 0.1.0
 */
export type HttpRequestInfo = Transport.RequestInfo

/**
 * The answer to an HTTP attempt, as the `http_response` event shows it.
 *
 * @category models
 * @since 0.1.0
 */
export type HttpResponseInfo = Transport.ResponseInfo

/**
 * The events and their arguments.
 *
 * @category models
 * @since 0.1.0
 */
export interface AnalyticsEvents {
  readonly identify: [ctx: CallContext]
  readonly track: [ctx: CallContext]
  readonly page: [ctx: CallContext]
  readonly screen: [ctx: CallContext]
  readonly group: [ctx: CallContext]
  readonly alias: [ctx: CallContext]
  /** A delivery failure, a flush timeout, or a call refused after validation (emitted during the call). */
  readonly error: [error: EmittedError]
  readonly http_request: [request: HttpRequestInfo]
  readonly http_response: [response: HttpResponseInfo]
  /** A call made after close, with the message it would have sent (emitted during the call, as the original). */
  readonly call_after_close: [event: Message.WireMessage]
  /** Everything accepted so far is settled (delivered or failed). */
  readonly drained: []
}

type Listener<K extends keyof AnalyticsEvents> = (...args: AnalyticsEvents[K]) => void

const errorCodes: Record<AnalyticsError["reason"]["_tag"], ErrorCode> = {
  ValidationError: "delivery_failure",
  InvalidOption: "delivery_failure",
  HttpError: "delivery_failure",
  TransportError: "delivery_failure",
  MessageTooLarge: "message_too_large",
  QueueFull: "queue_full",
  FlushTimeout: "flush_timeout",
  ClientClosed: "call_after_close",
  OutboxUnavailable: "outbox_unavailable"
}

/**
 * An `HttpClient` whose real implementation is built in the background. Some layers build asynchronously (the
 * default one is loaded with a dynamic import), but the constructor must return a working client synchronously:
 * calls queue at once and the first request waits for the build.
 */
const buildInBackground = (layer: Layer.Layer<HttpClient.HttpClient>): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.gen(function*() {
      const scope = yield* Scope.Scope
      const building = yield* Layer.buildWithScope(layer, scope).pipe(
        Effect.map(EffectContext.get(HttpClient.HttpClient)),
        Effect.forkIn(scope, { startImmediately: true })
      )
      return HttpClient.makeWith<HttpClientError.HttpClientError, never, HttpClientError.HttpClientError, never>(
        (request) => Effect.flatMap(Fiber.join(building), (client) => Effect.flatMap(request, client.execute)),
        Effect.succeed
      )
    })
  )

class EngineService
  extends EffectContext.Service<EngineService, Engine.Engine>()("cdp-analytics-effect/Analytics/Engine")
{}

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  typeof u === "object" && u !== null && typeof (u as { readonly then?: unknown }).then === "function"

/** The receipt of a refused call: its `delivered` rejects with the refusal. */
const refusedReceipt = (message: Message.WireMessage | undefined, error: AnalyticsError): Receipt =>
  new Receipt(message?.messageId ?? "", Settlement.settled(error))

/**
 * A client for plain Node code. Each instance is independent: its own queue, key, timers and sockets.
 *
 * ```ts
 * import { Analytics } from "cdp-analytics-effect/node"
 *
 * const analytics = new Analytics({ writeKey: "YOUR_API_KEY" })
 * analytics.track({ userId: "019mr8mf4r", event: "Ultimate Played" }, (err, ctx) => {
 *   if (err) console.error("not delivered", err.message)
 * })
 * await analytics.closeAndFlush()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export class Analytics<Plan extends TrackingPlan.Any | undefined = undefined> {
  readonly #listeners = new Map<
    keyof AnalyticsEvents,
    Array<{ listener: (...args: Array<any>) => void; once: boolean }>
  >()
  readonly #runtime: ManagedRuntime.ManagedRuntime<EngineService, AnalyticsError>
  readonly #engine: Engine.Engine
  readonly #closeTimeout: number
  #closing: Promise<void> | undefined
  /** The first `FlushTimeout` of this client: what closing gave up on, for `closeAndFlush`'s callback. */
  #abandoned: AnalyticsError | undefined
  /** Promises returned by callbacks and not yet settled: `closeAndFlush` waits for them. */
  readonly #callbackPromises = new Set<PromiseLike<unknown>>()

  /** Resolved at once: the client is ready when the constructor returns (kept for drop-in compatibility). */
  readonly ready: Promise<void> = Promise.resolve()

  constructor(settings: AnalyticsSettings<Plan>) {
    const { beforeSend, httpClientLayer, outbox: outboxOptions, trackingPlan, ...options } = settings ??
      ({} as AnalyticsSettings<Plan>)
    const resolved = AnalyticsConfig.resolve(options)
    if (Result.isFailure(resolved)) throw new Error(resolved.failure.message)
    const outbox = outboxOptions === undefined ? undefined : Outbox.file(outboxOptions)
    if (outbox !== undefined && Result.isFailure(outbox)) throw new Error(outbox.failure.message)
    if (httpClientLayer !== undefined && !Layer.isLayer(httpClientLayer)) {
      throw new Error(`option "httpClientLayer" must be an Effect Layer providing HttpClient`)
    }
    if (trackingPlan !== undefined && !TrackingPlan.isTrackingPlan(trackingPlan)) {
      throw new Error(`option "trackingPlan" must be made with TrackingPlan.make`)
    }
    if (beforeSend !== undefined && typeof beforeSend !== "function") {
      throw new Error(`option "beforeSend" must be a function from a message to a message or null`)
    }
    this.#closeTimeout = resolved.success.closeTimeoutMillis
    const engineLayer = Layer.effect(
      EngineService,
      Engine.make({
        options,
        outbox: outbox?.success,
        trackingPlan,
        beforeSend,
        onSettled: (envelopes, error) => this.#onSettled(envelopes, error),
        observer: this.#observer(),
        // Logged only when nobody else would see it: no callback on the call, no `error` listener.
        isHandled: (_, hasCallback) => hasCallback || this.#has("error")
      })
    ).pipe(
      Layer.provide(
        buildInBackground(
          httpClientLayer ?? DefaultHttpClient.layer({ maxSockets: resolved.success.maxConcurrentRequests })
        )
      )
    )
    this.#runtime = ManagedRuntime.make(engineLayer)
    // Building is synchronous: the options are valid and the HttpClient is built in the background.
    this.#engine = this.#runtime.runSync(EngineService)
    this.identify = this.identify.bind(this)
    this.track = this.track.bind(this)
    this.page = this.page.bind(this)
    this.screen = this.screen.bind(this)
    this.group = this.group.bind(this)
    this.alias = this.alias.bind(this)
    this.flush = this.flush.bind(this)
    this.closeAndFlush = this.closeAndFlush.bind(this)
  }

  /**
   * `require("cdp-analytics-effect")` returns this class itself (so `new (require(...))(...)` works, as in the
   * original's docs); these make `const { Analytics, Context, ValidationError } = require(...)` and `.default` work
   * too.
   */
  static get Analytics(): typeof Analytics {
    return Analytics
  }
  static get default(): typeof Analytics {
    return Analytics
  }
  /** The original's name for {@link CallContext}. */
  static get Context(): typeof CallContext {
    return CallContext
  }
  static get CallContext(): typeof CallContext {
    return CallContext
  }
  static get ValidationError(): typeof ValidationError {
    return ValidationError
  }
  /** The error class, for `instanceof` in CommonJS code (in ESM it is `AnalyticsError.AnalyticsError`). */
  static get AnalyticsError(): typeof AnalyticsError {
    return AnalyticsError
  }

  /** The version of this library. */
  get VERSION(): string {
    return libraryVersion
  }

  identify(params: TrackingPlan.IdentifyParams<Plan>, callback?: Callback): Receipt {
    return this.#call("identify", params, callback)
  }
  /** With a tracking plan, `event` is one of the plan's events and `properties` that event's type. */
  track<const E extends string>(
    params: { readonly event: E } & TrackingPlan.TrackParams<Plan, E>,
    callback?: Callback
  ): Receipt {
    return this.#call("track", params, callback)
  }
  page(params: Message.PageParams, callback?: Callback): Receipt {
    return this.#call("page", params, callback)
  }
  screen(params: Message.ScreenParams, callback?: Callback): Receipt {
    return this.#call("screen", params, callback)
  }
  group(params: TrackingPlan.GroupParams<Plan>, callback?: Callback): Receipt {
    return this.#call("group", params, callback)
  }
  alias(params: Message.AliasParams, callback?: Callback): Receipt {
    return this.#call("alias", params, callback)
  }

  /**
   * Sends everything queued now; resolves when those messages are delivered or have finally failed. The client
   * stays open. Never rejects.
   */
  flush(): Promise<void> {
    // After close everything is settled already, and the runtime is gone.
    if (this.#closing !== undefined) return this.#closing
    return this.#runtime.runPromise(this.#engine.flush)
  }

  /**
   * Stops accepting calls, sends everything queued, waits for in-flight requests and retries, then releases every
   * timer and socket so the process can exit. After `timeout` (default 75 s) what is still pending fails with a
   * `FlushTimeout` error (its callback and an `error` event with code `flush_timeout`). Within the same timeout it
   * also waits for the promises that the callbacks it triggered returned.
   *
   * Resolves (never rejects) once closed; the optional callback gets that `FlushTimeout` error if anything was
   * abandoned. Idempotent: later calls wait for the first.
   */
  closeAndFlush(
    options?: { readonly timeout?: number | undefined } | ((err: AnalyticsError | undefined) => void),
    callback?: (err: AnalyticsError | undefined) => void
  ): Promise<void> {
    const done = typeof options === "function" ? options : callback
    const timeout = typeof options === "object" && options?.timeout !== undefined ? options.timeout : this.#closeTimeout
    // Never rejects: a finalizer of a user's HttpClient layer that fails must not become an unhandled rejection.
    this.#closing ??= this.#runtime.runPromise(this.#closeWithin(timeout)).then(
      () => this.#runtime.dispose(),
      () => this.#runtime.dispose()
    ).catch(() => undefined)
    return this.#closing.then(() => {
      if (done !== undefined) this.#guard(() => done(this.#abandoned))
    })
  }

  #closeWithin(timeout: number): Effect.Effect<void> {
    const engine = this.#engine
    const callbackPromises = this.#callbackPromises
    return Effect.gen(function*() {
      const started = yield* Effect.clockWith((clock) => clock.currentTimeMillis)
      yield* engine.close(timeout)
      if (callbackPromises.size === 0) return
      const elapsed = (yield* Effect.clockWith((clock) => clock.currentTimeMillis)) - started
      yield* Effect.promise(() => Promise.allSettled(callbackPromises)).pipe(
        Effect.timeoutOption(Math.max(0, timeout - elapsed))
      )
    })
  }

  on<K extends keyof AnalyticsEvents>(event: K, listener: Listener<K>): this {
    return this.#add(event, listener, false)
  }
  once<K extends keyof AnalyticsEvents>(event: K, listener: Listener<K>): this {
    return this.#add(event, listener, true)
  }
  off<K extends keyof AnalyticsEvents>(event: K, listener: Listener<K>): this {
    const list = this.#listeners.get(event)
    if (list !== undefined) {
      const index = list.findIndex((entry) => entry.listener === listener)
      if (index !== -1) list.splice(index, 1)
    }
    return this
  }

  #add(event: keyof AnalyticsEvents, listener: (...args: Array<any>) => void, once: boolean): this {
    const list = this.#listeners.get(event)
    if (list === undefined) this.#listeners.set(event, [{ listener, once }])
    else list.push({ listener, once })
    return this
  }

  #has(event: keyof AnalyticsEvents): boolean {
    return (this.#listeners.get(event)?.length ?? 0) > 0
  }

  #emit<K extends keyof AnalyticsEvents>(event: K, ...args: AnalyticsEvents[K]): void {
    const list = this.#listeners.get(event)
    if (list === undefined || list.length === 0) return
    // A copy: `once` listeners remove themselves while we iterate.
    for (const entry of list.slice()) {
      if (entry.once) this.off(event, entry.listener as Listener<K>)
      this.#guard(() => entry.listener(...args))
    }
  }

  /** A listener or callback that throws must never break the client or crash the process. */
  #guard(run: () => unknown): void {
    Engine.guard(run)
  }

  #reportError(error: AnalyticsError, ctx: CallContext): void {
    this.#emit("error", { code: errorCodes[error.reason._tag], reason: error, ctx })
  }

  #onSettled(envelopes: ReadonlyArray<Engine.Envelope>, error: AnalyticsError | undefined): void {
    if (error !== undefined) {
      if (error.reason._tag === "FlushTimeout") this.#abandoned ??= error
      if (this.#has("error")) {
        for (const envelope of envelopes) this.#reportError(error, new CallContext(envelope.message, error))
      }
    } else if (this.#hasAnyTypeListener()) {
      for (const envelope of envelopes) this.#emit(envelope.message.type, new CallContext(envelope.message))
    }
    if (this.#engine.pending() === 0) this.#emit("drained")
  }

  #observer(): Transport.Observer {
    return {
      onRequest: (_, describe) => {
        if (this.#has("http_request")) this.#emit("http_request", describe())
      },
      onResponse: (_, describe) => {
        if (this.#has("http_response")) this.#emit("http_response", describe())
      }
    }
  }

  #hasAnyTypeListener(): boolean {
    return this.#has("identify") || this.#has("track") || this.#has("page") || this.#has("screen")
      || this.#has("group") || this.#has("alias")
  }

  /** Runs a callback, keeping the promise it may return for `closeAndFlush` (and handling its rejection). */
  #runCallback(callback: Callback, error: AnalyticsError | undefined, ctx: CallContext | undefined): void {
    const promises = this.#callbackPromises
    // Inside the guard: a returned object's `then` is user code too.
    this.#guard(() => {
      const returned: unknown = callback(error, ctx)
      if (!isThenable(returned)) return
      const tracked: Promise<unknown> = Promise.resolve(returned).then(
        () => promises.delete(tracked),
        () => promises.delete(tracked)
      )
      promises.add(tracked)
    })
  }

  #call(type: Message.CallType, params: unknown, callback: Callback | undefined): Receipt {
    const onSettled: Engine.MessageCallback | undefined = callback === undefined
      ? undefined
      : (error, envelope) => this.#runCallback(callback, error, new CallContext(envelope.message, error))
    const result = this.#engine.accept(type, params, onSettled)
    if (Result.isSuccess(result)) {
      const { dropped, message, settlement } = result.success
      // Dropped by beforeSend: as good as delivered for its callback, which runs once the call has returned.
      if (dropped && callback !== undefined) {
        queueMicrotask(() => this.#runCallback(callback, undefined, new CallContext(message, undefined)))
      }
      return new Receipt(message.messageId, settlement)
    }
    const { error, message } = result.failure
    if (error.reason._tag === "ValidationError") throw error.reason
    // Refused after validation (too large, queue full, closed): reported, never thrown. The events go out now, with
    // the message, as the original emits call_after_close; nothing of the call is kept for them. A callback runs
    // once the call has returned, as a callback always does; only the callback and the shared error wait for it.
    if (this.#reportingRefusals) {
      // Made by a refusal's own listener or callback: reported after the current reports, on a later turn of the
      // event loop, so a listener that keeps retrying cannot recurse nor starve the I/O that would make room.
      this.#later.push({ error, callback, message })
      if (this.#later.length === 1) {
        Effect.runFork(Effect.andThen(Effect.yieldNow, Effect.sync(() => this.#reportLater())))
      }
      return refusedReceipt(message, error)
    }
    this.#reportingRefusals = true
    try {
      this.#reportRefusal(error, message)
    } finally {
      this.#reportingRefusals = false
    }
    if (callback !== undefined) {
      this.#callbacks.push({ error, callback })
      if (this.#callbacks.length === 1) queueMicrotask(() => this.#runRefusalCallbacks())
    }
    return refusedReceipt(message, error)
  }

  /** True while refusals are being reported: a refused call made then is reported later, not by recursion. */
  #reportingRefusals = false

  #reportRefusal(error: AnalyticsError, message: Message.WireMessage | undefined): void {
    if (message === undefined) return
    if (error.reason._tag === "ClientClosed") this.#emit("call_after_close", message)
    if (this.#has("error")) this.#reportError(error, new CallContext(message, error))
  }

  /** Callbacks of calls refused after validation, waiting for the calling code to yield. */
  readonly #callbacks: Array<{ readonly error: AnalyticsError; readonly callback: Callback }> = []

  #runRefusalCallbacks(): void {
    // Taken first: a callback that makes another refused call is reported on its own, later.
    const callbacks = this.#callbacks.splice(0)
    this.#reportingRefusals = true
    try {
      for (const { callback, error } of callbacks) this.#runCallback(callback, error, undefined)
    } finally {
      this.#reportingRefusals = false
    }
  }

  /** Refusals made while refusals were being reported: events and callbacks both still to run. */
  readonly #later: Array<{
    readonly error: AnalyticsError
    readonly callback: Callback | undefined
    readonly message: Message.WireMessage | undefined
  }> = []

  #reportLater(): void {
    const later = this.#later.splice(0)
    this.#reportingRefusals = true
    try {
      for (const { callback, error, message } of later) {
        this.#reportRefusal(error, message)
        if (callback !== undefined) this.#runCallback(callback, error, undefined)
      }
    } finally {
      this.#reportingRefusals = false
    }
  }
}

export default Analytics
