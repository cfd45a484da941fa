/**
 * The collector's data: its options, what it records, and the scripted answers. `Collector.ts` re-exports these as
 * its public types; the parts under `internal/collector/` share them.
 */
import type * as Duration from "effect/Duration"
import type * as Redacted from "effect/Redacted"
import type * as TrackingPlan from "../../TrackingPlan.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /**
   * The key clients must send as `Authorization: Basic base64(writeKey + ":")`. Without one, any key is accepted, but
   * a request must still carry one (a request without `Authorization` gets 401, as from the real API).
   */
  readonly writeKey?: string | Redacted.Redacted<string> | undefined
  /**
   * The port. `0` picks a free one; read it back from `url` or `port`.
   *
   * @default 0
   */
  readonly port?: number | undefined
  /**
   * The address to listen on. Anything but a loopback address makes the payloads, and the inspector that shows
   * them, visible to that network.
   *
   * @default "127.0.0.1"
   */
  readonly host?: string | undefined
  /**
   * The path of the batch endpoint.
   *
   * @default "/v1/batch"
   */
  readonly path?: `/${string}` | undefined
  /**
   * Host names (without the port) the collector answers to besides the address it listens on and `localhost`, such
   * as `host.docker.internal`. Requests with any other `Host` header are refused (403): that is what stops a web page
   * from reading the inspector through DNS rebinding.
   *
   * @default []
   */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  /**
   * Serves the inspector, a live view of what arrived, at `/` (see `inspectorUrl`).
   *
   * @default true
   */
  readonly inspector?: boolean | undefined
  /**
   * The token that unlocks the inspector's fault controls; without it the page and its API are read-only.
   *
   * @default a random one, generated at start
   */
  readonly token?: string | Redacted.Redacted<string> | undefined
  /**
   * How many of the latest messages and requests are kept for `messages`, `requests` and the inspector's list. The
   * counters (`stats`) always count everything, and duplicates are detected over every `messageId` ever accepted.
   *
   * @default every message for `messages` and `requests`; the latest 100 000 (and at most 64 MB of JSON) for the
   * inspector
   */
  readonly retain?: number | undefined
  /**
   * A tracking plan to check each message against; its violations show in the inspector (the collector still
   * accepts the message, as the real API does).
   */
  readonly trackingPlan?: TrackingPlan.Any | undefined
}

/**
 * A message the collector accepted, as it was sent.
 *
 * @category models
 * @since 0.1.0
 */
export interface ReceivedMessage {
  readonly type: string
  readonly messageId?: string | undefined
  readonly [field: string]: unknown
}

/**
 * What happened to a request because of fault injection, if anything.
 *
 * @category models
 * @since 0.1.0
 */
export type Fault = "status" | "latency" | "hang" | "drop" | "failureRate"

/**
 * One request the collector saw.
 *
 * @category models
 * @since 0.1.0
 */
export interface RequestRecord {
  /** Arrival time, epoch milliseconds from the `Clock`. */
  readonly at: number
  /** Messages in the batch (0 when the body could not be read as a batch). */
  readonly messages: number
  /** Messages new to the collector; the rest of an accepted batch were duplicates. */
  readonly accepted: number
  readonly duplicates: number
  /** Body size as sent, so compressed when `gzip`. */
  readonly bytes: number
  readonly gzip: boolean
  /** The `X-Retry-Count` header, when sent. */
  readonly retryCount: number | undefined
  /** The status answered, `undefined` when the collector never answered (hang, drop). */
  readonly status: number | undefined
  readonly fault: Fault | undefined
  /** Why the request was refused, as told to the client. */
  readonly error: string | undefined
  /** Lower-cased request headers; `authorization` (and any other credential) is redacted. */
  readonly headers: Readonly<Record<string, string>>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Stats {
  readonly requests: number
  /** Distinct messages accepted. */
  readonly messages: number
  /** Distinct messages accepted, by `type`. */
  readonly byType: Readonly<Record<string, number>>
  /** Messages accepted again with a `messageId` already seen. */
  readonly duplicates: number
  /** Request body bytes on the wire. */
  readonly bytes: number
  /** Requests that carried `X-Retry-Count` of 1 or more. */
  readonly retries: number
  /** Answers by status (`"200"`, `"503"`, …), plus `"hang"` and `"drop"` for requests never answered. */
  readonly answers: Readonly<Record<string, number>>
}

/**
 * Everything recorded, at one point in time.
 *
 * @category models
 * @since 0.1.0
 */
export interface Snapshot {
  readonly messages: ReadonlyArray<ReceivedMessage>
  readonly requests: ReadonlyArray<RequestRecord>
  readonly stats: Stats
}

/**
 * A scripted answer to one request. Build them with {@link Answer}.
 *
 * @category models
 * @since 0.1.0
 */
export type Answer =
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly retryAfter?: number | string | undefined
    readonly body?: string | undefined
  }
  | { readonly _tag: "Latency"; readonly delay: Duration.Input }
  | { readonly _tag: "Hang" }
  | { readonly _tag: "Drop" }
  | { readonly _tag: "Normal" }

/**
 * Constructors of scripted answers.
 *
 * - `status(503, { retryAfter: 2, body })`: answer this status (the body is not checked, nothing is recorded as
 *   accepted). `retryAfter` is sent verbatim as `Retry-After` (seconds or an HTTP date).
 * - `latency("2 seconds")`: accept and record the batch as usual, then wait before answering. A client that times out
 *   meanwhile and retries produces duplicates, as against the real API.
 * - `hang`: never answer; ends when the client gives up or the collector goes down or closes.
 * - `drop`: read the request, then destroy the connection without answering (the client sees a network error).
 * - `normal`: answer as usual, to let some requests through between faults.
 *
 * @category constructors
 * @since 0.1.0
 */
export const Answer: {
  readonly status: (
    status: number,
    options?: { readonly retryAfter?: number | string | undefined; readonly body?: string | undefined }
  ) => Answer
  readonly latency: (delay: Duration.Input) => Answer
  readonly hang: Answer
  readonly drop: Answer
  readonly normal: Answer
} = {
  status: (status, options) => ({ _tag: "Status", status, retryAfter: options?.retryAfter, body: options?.body }),
  latency: (delay) => ({ _tag: "Latency", delay }),
  hang: { _tag: "Hang" },
  drop: { _tag: "Drop" },
  normal: { _tag: "Normal" }
}

/**
 * A fraction of requests answered with `status`, drawn per request. With a `seed` the sequence is the same on every
 * run; without one it comes from the `Random` service of the scope the collector was built in.
 *
 * @category models
 * @since 0.1.0
 */
export interface FailureRate {
  /** From 0 (off) to 1 (every request). */
  readonly rate: number
  /** @default 500 */
  readonly status?: number | undefined
  readonly retryAfter?: number | string | undefined
  readonly seed?: string | number | undefined
}
