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
// By path, not the package barrel: the barrel loads every Node module of the platform, a second of cold start.
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
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
import { AnalyticsError } from "./AnalyticsError.ts"
import * as Engine from "./internal/engine.ts"
import { libraryVersion } from "./internal/version.ts"
import type * as Message from "./Message.ts"
import type * as Transport from "./Transport.ts"

/**
 * The constructor's options: the original's names (`writeKey`, `host`, `path`, `maxEventsInBatch`,
 * `flushInterval`, `maxRetries`, `httpRequestTimeout`, `disable`) plus this library's (`region`, `maxQueueSize`,
 * `maxConcurrentRequests`, `compression`, `strictMode`, `closeTimeout`, `httpClientLayer`). Durations are in
 * milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export interface AnalyticsSettings {
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
   * The Effect `HttpClient` to send with, e.g. `NodeHttpClient.layerUndiciOptions({...})` for a proxy or
   * `FetchHttpClient.layer`. @default node:http with keep-alive sockets, one per `maxConcurrentRequests`
   */
  readonly httpClientLayer?: Layer.Layer<HttpClient.HttpClient> | undefined
}

export type { AliasParams, GroupParams, IdentifyParams, PageParams, ScreenParams, TrackParams } from "./Message.ts"

/**
 * What callbacks and events receive about one message. `event` is the message exactly as it was sent.
 *
 * @category models
 * @since 0.1.0
 */
export class Context {
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
 * Called exactly once per accepted call: after delivery (`err` undefined) or after the final failure.
 *
 * @category models
 * @since 0.1.0
 */
export type Callback = (err: AnalyticsError | undefined, ctx: Context | undefined) => void

/**
 * Thrown synchronously by a call whose params break a rule; nothing was queued.
 *
 * @category errors
 * @since 0.1.0
 */
export class ValidationError extends Error {
  /** The offending field's path, e.g. `"event"` or `"properties.total"`. */
  readonly field: string
  readonly call: string
  override readonly name = "ValidationError"
  constructor(call: string, field: string, message: string) {
    super(message)
    this.call = call
    this.field = field
  }
}

/**
 * `code` of an `error` event.
 *
 * @category models
 * @since 0.1.0
 */
export type ErrorCode = "delivery_failure" | "message_too_large" | "queue_full" | "flush_timeout" | "call_after_close"

/**
 * @category models
 * @since 0.1.0
 */
export interface EmittedError {
  readonly code: ErrorCode
  readonly reason: AnalyticsError
  readonly ctx?: Context | undefined
}

/**
 * The events and their arguments.
 *
 * @category models
 * @since 0.1.0
 */
export interface AnalyticsEvents {
  readonly identify: [ctx: Context]
  readonly track: [ctx: Context]
  readonly page: [ctx: Context]
  readonly screen: [ctx: Context]
  readonly group: [ctx: Context]
  readonly alias: [ctx: Context]
  readonly error: [error: EmittedError]
  readonly http_request: [request: Transport.RequestInfo]
  readonly http_response: [response: Transport.ResponseInfo]
  readonly call_after_close: [event: { readonly type: Message.CallType } & Record<string, unknown>]
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
  ClientClosed: "call_after_close"
}

/**
 * An `HttpClient` whose real implementation is built in the background. Some layers build asynchronously (undici
 * is loaded with a dynamic import), but the constructor must return a working client synchronously: calls queue
 * at once and the first request waits for the build.
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

/**
 * A client for plain Node code. Each instance is independent: its own queue, key, timers and sockets.
 *
 * ```ts
 * import { Analytics } from "cdp-analytics-effect"
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
export class Analytics {
  readonly #listeners = new Map<
    keyof AnalyticsEvents,
    Array<{ listener: (...args: Array<any>) => void; once: boolean }>
  >()
  readonly #runtime: ManagedRuntime.ManagedRuntime<EngineService, AnalyticsError>
  readonly #engine: Engine.Engine
  readonly #closeTimeout: number
  #pending = 0
  #closing: Promise<void> | undefined
  /** The first `FlushTimeout` of this client: what closing gave up on, for `closeAndFlush`'s callback. */
  #abandoned: AnalyticsError | undefined

  /** Resolved at once: the client is ready when the constructor returns (kept for drop-in compatibility). */
  readonly ready: Promise<void> = Promise.resolve()

  constructor(settings: AnalyticsSettings) {
    const { httpClientLayer, ...options } = settings ?? ({} as AnalyticsSettings)
    const resolved = AnalyticsConfig.resolve(options)
    if (Result.isFailure(resolved)) throw new Error(resolved.failure.message)
    if (httpClientLayer !== undefined && !Layer.isLayer(httpClientLayer)) {
      throw new Error(`option "httpClientLayer" must be an Effect Layer providing HttpClient`)
    }
    this.#closeTimeout = resolved.success.closeTimeoutMillis
    // node:http with a keep-alive socket per request slot: measured the fastest (docs/performance.md), and it
    // loads no HTTP library besides Node's own.
    const defaultHttpClient = NodeHttpClient.layerNodeHttpOptions({
      keepAlive: true,
      maxSockets: resolved.success.maxConcurrentRequests
    })
    const engineLayer = Layer.effect(EngineService, Engine.make(options, this.#hooks())).pipe(
      Layer.provide(buildInBackground(httpClientLayer ?? defaultHttpClient))
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
   * original's docs); these make `const { Analytics } = require(...)` and `.default` work too.
   */
  static get Analytics(): typeof Analytics {
    return Analytics
  }
  static get default(): typeof Analytics {
    return Analytics
  }

  /** The version of this library. */
  get VERSION(): string {
    return libraryVersion
  }

  identify(params: Message.IdentifyParams, callback?: Callback): void {
    this.#call("identify", params, callback)
  }
  track(params: Message.TrackParams, callback?: Callback): void {
    this.#call("track", params, callback)
  }
  page(params: Message.PageParams, callback?: Callback): void {
    this.#call("page", params, callback)
  }
  screen(params: Message.ScreenParams, callback?: Callback): void {
    this.#call("screen", params, callback)
  }
  group(params: Message.GroupParams, callback?: Callback): void {
    this.#call("group", params, callback)
  }
  alias(params: Message.AliasParams, callback?: Callback): void {
    this.#call("alias", params, callback)
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
   * `FlushTimeout` error (its callback and an `error` event with code `flush_timeout`).
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
    this.#closing ??= this.#runtime.runPromise(this.#engine.close(timeout)).then(
      () => this.#runtime.dispose(),
      () => this.#runtime.dispose()
    )
    return this.#closing.then(() => {
      if (done !== undefined) this.#guard(() => done(this.#abandoned))
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
  #guard(run: () => void): void {
    try {
      run()
    } catch {
      // Deliberately swallowed: the library has nowhere safe to rethrow user exceptions.
    }
  }

  #reportError(error: AnalyticsError, ctx: Context | undefined): void {
    if (error.reason._tag === "FlushTimeout") this.#abandoned ??= error
    this.#emit("error", { code: errorCodes[error.reason._tag], reason: error, ctx })
  }

  #hooks(): Engine.Hooks {
    return {
      onSettled: (messages, error) => {
        this.#pending -= messages.length
        if (error !== undefined) {
          for (const envelope of messages) this.#reportError(error, new Context(envelope.message, error))
        } else {
          if (this.#hasAnyTypeListener()) {
            for (const envelope of messages) this.#emit(envelope.message.type, new Context(envelope.message))
          }
        }
        if (this.#pending === 0) this.#emit("drained")
      },
      observer: {
        onRequest: (request) => this.#emit("http_request", request),
        onResponse: (response) => this.#emit("http_response", response)
      }
    }
  }

  #hasAnyTypeListener(): boolean {
    return this.#has("identify") || this.#has("track") || this.#has("page") || this.#has("screen")
      || this.#has("group") || this.#has("alias")
  }

  #call(type: Message.CallType, params: unknown, callback: Callback | undefined): void {
    const onSettled: Engine.Callback | undefined = callback === undefined
      ? undefined
      : (error, message) => callback(error, new Context(message, error))
    const result = this.#engine.accept(type, params, onSettled)
    if (Result.isSuccess(result)) {
      this.#pending++
      return
    }
    const error = result.failure
    const reason = error.reason
    if (reason._tag === "ValidationError") throw new ValidationError(reason.call, reason.field, reason.message)
    // Refused after validation (too large, queue full, closed): reported like a delivery outcome, never thrown,
    // and after the call returns, as a callback always is.
    // Only what the report needs is kept until it runs (not the caller's params), in one list drained by one
    // microtask, and nothing when nobody would see it: a loop of calls refused during an outage must not hold
    // memory in proportion to the calls.
    const closed = reason._tag === "ClientClosed" ? { ...(params as Record<string, unknown>), type } : undefined
    if (callback === undefined && !this.#has("error") && (closed === undefined || !this.#has("call_after_close"))) {
      return
    }
    if (this.#refusals.length === 0) queueMicrotask(() => this.#reportRefusals())
    this.#refusals.push({ error, callback, closed })
  }

  readonly #refusals: Array<{
    readonly error: AnalyticsError
    readonly callback: Callback | undefined
    readonly closed: AnalyticsEvents["call_after_close"][0] | undefined
  }> = []

  #reportRefusals(): void {
    // Taken first: a callback that makes another refused call schedules its own report.
    const refusals = this.#refusals.splice(0)
    for (const { callback, closed, error } of refusals) {
      if (closed !== undefined) this.#emit("call_after_close", closed)
      this.#reportError(error, undefined)
      if (callback !== undefined) this.#guard(() => callback(error, undefined))
    }
  }
}

export default Analytics
