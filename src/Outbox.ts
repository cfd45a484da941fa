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
 *
 * For applications on PostgreSQL, {@link layerSql} keeps the outbox in a table instead: a call inserts a row inside
 * the caller's transaction (stored if and only if the transaction commits), and any number of processes drain it.
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
import type * as SqlClient from "effect/sql/SqlClient"
import { AnalyticsError, InvalidOption } from "./AnalyticsError.ts"
import type * as SqlDrain from "./internal/outbox/sqlDrain.ts"

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
 * @category models
 * @since 0.1.0
 */
export interface SqlOptions {
  /** The table (`name` or `schema.name`, letters, digits and `_`). @default "cdp_analytics_outbox" */
  readonly table?: string | undefined
  /**
   * How long a drainer holds the rows it claimed before another may claim them: the longest a dead drainer's rows
   * wait. A live drainer renews its leases every third of it. A number is milliseconds. @default "30 seconds"
   */
  readonly leaseDuration?: Duration.Input | undefined
  /**
   * How often an idle drainer looks for rows inserted by other processes (its own are seen at once, after their
   * transaction commits). A number is milliseconds. @default "1 second"
   */
  readonly pollInterval?: Duration.Input | undefined
  /** Moves messages that finally failed to `<table>_dead_letter` instead of deleting them. @default false */
  readonly deadLetter?: boolean | undefined
  /** Creates the tables (if missing) when the layer is built; `false` if your own migrations do. @default true */
  readonly migrate?: boolean | undefined
}

/**
 * A PostgreSQL outbox with its settings resolved, and the `SqlClient` it uses.
 *
 * @category models
 * @since 0.1.0
 */
export interface Sql {
  readonly _tag: "Sql"
  readonly table: string
  readonly leaseMillis: number
  readonly pollIntervalMillis: number
  readonly deadLetter: boolean
  readonly migrate: boolean
  /** Starts draining for a client (internal: the client calls it). */
  readonly open: SqlDrain.Open
}

/**
 * What the client keeps its accepted messages in, besides memory.
 *
 * @category models
 * @since 0.1.0
 */
export type Service = File | Sql

/**
 * Provide it (with {@link layerFile} or {@link layerSql}) and `AnalyticsClient` stores every accepted message in it
 * first.
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

/** A duration option in milliseconds, or `undefined` if it is not one of at least `min` ms. */
const durationMillis = (value: unknown, min: number): number | undefined => {
  if (typeof value === "number" && !Number.isFinite(value)) return undefined
  const duration = Duration.fromInput(value as Duration.Input)
  if (Option.isNone(duration)) return undefined
  const millis = Duration.toMillis(duration.value)
  return millis >= min ? millis : undefined
}

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
    syncIntervalMillis = durationMillis(o.syncInterval, 0)
    if (syncIntervalMillis === undefined) {
      return invalid("syncInterval", `must be "always" or a duration (a number of milliseconds or e.g. "1 second")`)
    }
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
 * @category constants
 * @since 0.1.0
 */
export const sqlDefaults = {
  table: "cdp_analytics_outbox",
  leaseMillis: 30_000,
  pollIntervalMillis: 1_000,
  deadLetter: false,
  migrate: true
} as const

const tablePattern = /^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/

/**
 * Validates the options of a PostgreSQL outbox and applies the defaults; fails naming the option (`outbox.table`,
 * …).
 *
 * @category constructors
 * @since 0.1.0
 */
export const sqlSettings = (options: SqlOptions = {}): Result.Result<Omit<Sql, "open">, AnalyticsError> => {
  const o = (typeof options === "object" && options !== null ? options : {}) as Record<string, unknown>
  const table = o.table ?? sqlDefaults.table
  if (typeof table !== "string" || !tablePattern.test(table)) {
    return invalid("table", "must be a table name, or schema.table, of letters, digits and _")
  }
  const leaseMillis = o.leaseDuration === undefined ? sqlDefaults.leaseMillis : durationMillis(o.leaseDuration, 1_000)
  if (leaseMillis === undefined) return invalid("leaseDuration", "must be a duration of at least 1 second")
  const pollIntervalMillis = o.pollInterval === undefined
    ? sqlDefaults.pollIntervalMillis
    : durationMillis(o.pollInterval, 1)
  if (pollIntervalMillis === undefined) return invalid("pollInterval", "must be a duration of at least 1 ms")
  const deadLetter = o.deadLetter ?? sqlDefaults.deadLetter
  if (typeof deadLetter !== "boolean") return invalid("deadLetter", "must be a boolean")
  const migrate = o.migrate ?? sqlDefaults.migrate
  if (typeof migrate !== "boolean") return invalid("migrate", "must be a boolean")
  return Result.succeed({ _tag: "Sql", table, leaseMillis, pollIntervalMillis, deadLetter, migrate })
}

/**
 * A PostgreSQL outbox, for `AnalyticsClient`, over the `SqlClient` of the context (`PgClient.layer` from
 * `@effect/sql-pg`). Unless `migrate: false`, it creates its table when it is built. A call inserts a row with the
 * message, inside the caller's transaction when it runs within `sql.withTransaction`; every client with this layer
 * drains the table, each claiming rows with `FOR UPDATE SKIP LOCKED` under a lease, and deletes a row once its message
 * has a final outcome. The code behind it is loaded only when this layer is built.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerSql = (options: SqlOptions = {}): Layer.Layer<Outbox, AnalyticsError, SqlClient.SqlClient> =>
  Layer.unwrap(
    Effect.map(
      Effect.zip(
        Effect.fromResult(sqlSettings(options)),
        Effect.promise(() => import("./internal/outbox/sqlDrain.ts"))
      ),
      ([settings, module]) => Layer.effect(Outbox, module.make(settings))
    )
  )

/**
 * A file outbox in `options.path`, for `AnalyticsClient`. Invalid options fail the layer naming the option.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerFile = (options: FileOptions): Layer.Layer<Outbox, AnalyticsError> =>
  Layer.effect(Outbox, Effect.fromResult(file(options)))
