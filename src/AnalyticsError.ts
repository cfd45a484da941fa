/**
 * The one error type of the library: an `AnalyticsError` whose `reason` says what went wrong.
 *
 * Every reason knows whether trying again later could help (`isRetryable`), and every message is safe to
 * log: none ever contains the write key.
 *
 * @since 0.1.0
 */
import { NodeInspectSymbol } from "effect/Inspectable"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"

const TypeId = "~cdp-analytics-effect/AnalyticsError" as const

/**
 * A call was rejected before it was queued: a field broke a rule.
 *
 * `field` is the path of the offending field (`"event"`, `"properties.total"`, or `""` for the call itself).
 *
 * Unlike the other reasons it is an `Error` itself: the Promise API throws it as it is, so both APIs share one
 * `ValidationError` class (`instanceof` works with the one the package exports).
 *
 * @category reasons
 * @since 0.1.0
 */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  call: Schema.String,
  field: Schema.String,
  rule: Schema.String
}) {
  override get message(): string {
    return this.field === "" ? `${this.call}: ${this.rule}` : `${this.call}: "${this.field}" ${this.rule}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * An option given to the client is invalid.
 *
 * @category reasons
 * @since 0.1.0
 */
export class InvalidOption extends Schema.TaggedClass<InvalidOption>()("InvalidOption", {
  option: Schema.String,
  rule: Schema.String,
  /** The environment variable the value came from (`layerConfig`), named in the message instead of the option. */
  variable: Schema.optional(Schema.String)
}) {
  get message(): string {
    return this.variable === undefined ? `option "${this.option}" ${this.rule}` : `${this.variable} ${this.rule}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The encoded message is larger than the API accepts for one message (32 KB).
 *
 * @category reasons
 * @since 0.1.0
 */
export class MessageTooLarge extends Schema.TaggedClass<MessageTooLarge>()("MessageTooLarge", {
  call: Schema.String,
  size: Schema.Number,
  limit: Schema.Number
}) {
  get message(): string {
    return `${this.call}: the encoded message is ${this.size} bytes, over the limit of ${this.limit} bytes`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The client already holds `maxQueueSize` messages that are not yet sent; the call was refused.
 *
 * @category reasons
 * @since 0.1.0
 */
export class QueueFull extends Schema.TaggedClass<QueueFull>()("QueueFull", {
  maxQueueSize: Schema.Number,
  /** Set when it is the outbox that is full: its `maxBytes`. */
  outboxMaxBytes: Schema.optional(Schema.Number)
}) {
  get message(): string {
    return this.outboxMaxBytes === undefined
      ? `the queue already holds maxQueueSize (${this.maxQueueSize}) messages; the call was refused`
      : `the outbox already holds its maxBytes (${this.outboxMaxBytes} bytes); the call was refused`
  }
  get isRetryable(): boolean {
    return true
  }
}

/**
 * The client was closed before the call; nothing was queued.
 *
 * @category reasons
 * @since 0.1.0
 */
export class ClientClosed extends Schema.TaggedClass<ClientClosed>()("ClientClosed", {}) {
  get message(): string {
    return "the client is closed; the call was not sent"
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The API answered with a status that means the batch was not accepted.
 *
 * @category reasons
 * @since 0.1.0
 */
export class HttpError extends Schema.TaggedClass<HttpError>()("HttpError", {
  status: Schema.Number,
  body: Schema.String,
  /** Where the request went. */
  url: Schema.optional(Schema.String)
}) {
  get message(): string {
    const hint = this.status === 401 || this.status === 403
      ? " (the write key is wrong or lacks access)"
      : this.status === 404
      ? ` at ${this.url ?? "the batch URL"} (no such endpoint: check the "host" and "path" options)`
      : ""
    return `the API answered ${this.status}${hint}${this.body === "" ? "" : `: ${this.body}`}`
  }
  get isRetryable(): boolean {
    return isRetryableStatus(this.status)
  }
}

/**
 * The request did not get an answer: a network error, a refused connection or a per-attempt timeout.
 *
 * `description` keeps the cause's own message and says what to check; `code` is the cause's error code when it had
 * one (`ENOTFOUND`, `ECONNREFUSED`, `ECONNRESET`, `CERT_HAS_EXPIRED`, …), or `TIMEOUT` for `httpRequestTimeout`.
 *
 * @category reasons
 * @since 0.1.0
 */
export class TransportError extends Schema.TaggedClass<TransportError>()("TransportError", {
  description: Schema.String,
  code: Schema.optional(Schema.String)
}) {
  get message(): string {
    return `the request failed: ${this.description}`
  }
  get isRetryable(): boolean {
    return true
  }
}

/**
 * Close (or `closeAndFlush`) ran out of time before this message was delivered.
 *
 * @category reasons
 * @since 0.1.0
 */
export class FlushTimeout extends Schema.TaggedClass<FlushTimeout>()("FlushTimeout", {
  timeoutMillis: Schema.Number,
  /** What the last finished attempt to send the message got, if one had finished. */
  lastError: Schema.optional(Schema.String),
  /** With an outbox: the message stays in it, and is sent when a client opens it again. Not lost. */
  kept: Schema.optional(Schema.Boolean)
}) {
  get message(): string {
    const last = this.lastError === undefined ? "" : ` (the last attempt: ${this.lastError})`
    const kept = this.kept === true ? "; it is kept in the outbox and sent when a client opens it again" : ""
    return `the message was not delivered before the close timeout of ${this.timeoutMillis} ms${last}${kept}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * The outbox could not be opened or written: another live process holds its directory, the disk refused, or the
 * database did.
 *
 * @category reasons
 * @since 0.1.0
 */
export class OutboxUnavailable extends Schema.TaggedClass<OutboxUnavailable>()("OutboxUnavailable", {
  /** The file outbox's directory, or the PostgreSQL outbox's table (`table cdp_analytics_outbox`). */
  location: Schema.String,
  description: Schema.String
}) {
  get message(): string {
    return `the outbox in ${this.location} cannot be used: ${this.description}`
  }
  get isRetryable(): boolean {
    return false
  }
}

/**
 * @category reasons
 * @since 0.1.0
 */
export const Reason = Schema.Union([
  ValidationError,
  InvalidOption,
  MessageTooLarge,
  QueueFull,
  ClientClosed,
  HttpError,
  TransportError,
  FlushTimeout,
  OutboxUnavailable
])

/**
 * @category reasons
 * @since 0.1.0
 */
export type Reason = typeof Reason.Type

/**
 * Whether a status means "try again later". 413 is handled apart (the batch is split), so it is not here.
 *
 * @category predicates
 * @since 0.1.0
 */
export const isRetryableStatus = (status: number): boolean =>
  status === 408 || status === 410 || status === 429 || (status >= 500 && status !== 501 && status !== 505)

/**
 * The error of every failing operation of the library.
 *
 * **When to use**
 *
 * Match on `error.reason._tag` (or use `Effect.catchReason`) to handle one cause.
 *
 * @category errors
 * @since 0.1.0
 */
export class AnalyticsError extends Schema.TaggedError<AnalyticsError>()("AnalyticsError", {
  reason: Reason
}) {
  readonly [TypeId] = TypeId

  override get message(): string {
    return this.reason.message
  }

  get isRetryable(): boolean {
    return this.reason.isRetryable
  }

  /** `console.error(error)` and `util.inspect` show the message and the stack, then the reason's fields. */
  override [NodeInspectSymbol](): string {
    return `${this.stack ?? `${this.name}: ${this.message}`}\n  reason: ${this.reason._tag} ${
      JSON.stringify({ ...this.reason, _tag: undefined })
    }`
  }

  /** For structured logs: the message besides the tag and the reason. */
  override toJSON(): unknown {
    return { _tag: this._tag, message: this.message, reason: this.reason }
  }
}

/**
 * @category guards
 * @since 0.1.0
 */
export const isAnalyticsError = (u: unknown): u is AnalyticsError => Predicate.hasProperty(u, TypeId)

/**
 * @category constructors
 * @since 0.1.0
 */
export const make = (reason: Reason): AnalyticsError => new AnalyticsError({ reason })
