/**
 * A durable outbox: accepted messages are written to disk before the call returns, so a crash, an out-of-memory kill
 * or a deploy that kills the process loses none of them. The next client on the same directory sends what was
 * left, with the original `messageId`s (the API drops a re-sent duplicate).
 *
 * ```ts
 * import { AnalyticsClient, Outbox } from "cdp-analytics-effect"
 * import * as NodeTransport from "cdp-analytics-effect/NodeTransport"
 * import { Layer } from "effect"
 *
 * export const AnalyticsLive = AnalyticsClient.layerConfig().pipe(
 *   Layer.provide([Outbox.layerFile({ path: "./analytics-outbox" }), NodeTransport.layer()])
 * )
 * ```
 *
 * The Promise API takes the same options as `new Analytics({ writeKey, outbox: { path: "./analytics-outbox" } })`.
 * How it works, and what each setting trades: docs/outbox.md.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { AnalyticsError, InvalidOption } from "./AnalyticsError.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface FileOptions {
  /** The directory of the outbox, created if missing. One client at a time per directory. */
  readonly path: string
  /**
   * How often what was written is forced to the disk (`fsync`): a power loss or a kernel crash loses at most the
   * calls of that interval (a process crash loses nothing). `"always"` forces every call, at the cost of a disk
   * flush per call. A number is milliseconds.
   * @default 200
   */
  readonly syncInterval?: Duration.Input | "always" | undefined
  /** The most the outbox holds; past it calls are refused with `QueueFull` (or wait, with `overflow: "suspend"`). @default 1 GiB */
  readonly maxBytes?: number | undefined
  /** Keeps messages that finally failed (a 400, retries used up) in `dead-letter.ndjson` for a re-send. @default false */
  readonly deadLetter?: boolean | undefined
  /** The size at which a segment file is closed and a new one begun. @default 16 MiB */
  readonly segmentBytes?: number | undefined
}

/**
 * A file outbox with its settings resolved.
 *
 * @category models
 * @since 0.1.0
 */
export interface File {
  readonly _tag: "File"
  readonly path: string
  /** `undefined`: fsync after every write. */
  readonly syncIntervalMillis: number | undefined
  readonly maxBytes: number
  readonly deadLetter: boolean
  readonly segmentBytes: number
}

/**
 * What the client keeps its accepted messages in, besides memory.
 *
 * @category models
 * @since 0.1.0
 */
export type Service = File

/**
 * Provide it (with {@link layerFile}) and `AnalyticsClient` writes every accepted message to it first.
 *
 * @category services
 * @since 0.1.0
 */
export class Outbox extends Context.Service<Outbox, Service>()("cdp-analytics-effect/Outbox") {}

/**
 * @category constants
 * @since 0.1.0
 */
export const fileDefaults = {
  syncIntervalMillis: 200,
  maxBytes: 1024 * 1024 * 1024,
  deadLetter: false,
  segmentBytes: 16 * 1024 * 1024
} as const

const invalid = (option: string, rule: string) =>
  Result.fail(new AnalyticsError({ reason: new InvalidOption({ option: `outbox.${option}`, rule }) }))

const isIntegerAtLeast = (value: unknown, min: number): value is number =>
  typeof value === "number" && Number.isInteger(value) && value >= min

/**
 * Validates the options of a file outbox and applies the defaults; fails naming the option (`outbox.path`, …).
 *
 * @category constructors
 * @since 0.1.0
 */
export const file = (options: FileOptions): Result.Result<File, AnalyticsError> => {
  const o = (typeof options === "object" && options !== null ? options : {}) as Record<string, unknown>
  if (typeof o.path !== "string" || o.path.trim() === "") {
    return invalid("path", "must be the path of a directory")
  }
  let syncIntervalMillis: number | undefined = fileDefaults.syncIntervalMillis
  if (o.syncInterval === "always") syncIntervalMillis = undefined
  else if (o.syncInterval !== undefined) {
    const duration = typeof o.syncInterval === "number" && !Number.isFinite(o.syncInterval)
      ? Option.none()
      : Duration.fromInput(o.syncInterval as Duration.Input)
    if (Option.isNone(duration) || Duration.toMillis(duration.value) < 0) {
      return invalid("syncInterval", `must be "always" or a duration (a number of milliseconds or e.g. "1 second")`)
    }
    syncIntervalMillis = Duration.toMillis(duration.value)
  }
  const maxBytes = o.maxBytes ?? fileDefaults.maxBytes
  if (!isIntegerAtLeast(maxBytes, 64 * 1024)) {
    return invalid("maxBytes", "must be an integer of at least 65536 (64 KiB)")
  }
  const segmentBytes = o.segmentBytes ?? fileDefaults.segmentBytes
  if (!isIntegerAtLeast(segmentBytes, 4096)) {
    return invalid("segmentBytes", "must be an integer of at least 4096 (4 KiB)")
  }
  const deadLetter = o.deadLetter ?? fileDefaults.deadLetter
  if (typeof deadLetter !== "boolean") return invalid("deadLetter", "must be a boolean")
  return Result.succeed({ _tag: "File", path: o.path, syncIntervalMillis, maxBytes, deadLetter, segmentBytes })
}

/**
 * A file outbox in `options.path`, for `AnalyticsClient`. Invalid options fail the layer naming the option.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFile = (options: FileOptions): Layer.Layer<Outbox, AnalyticsError> =>
  Layer.effect(Outbox, Effect.fromResult(file(options)))
