/**
 * The client's options, their defaults (all in one place) and their validation.
 *
 * The facade (`new Analytics(options)`) and the Effect layers (`AnalyticsClient.layer(options)`) take the same
 * `Options`; `AnalyticsClient.layerConfig` reads them from Effect's `Config` (environment variables by default).
 *
 * @since 0.1.0
 */
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { AnalyticsError, InvalidOption } from "./AnalyticsError.ts"

/**
 * The hosts of the two Customer.io regions.
 *
 * @category constants
 * @since 0.1.0
 */
export const regionHosts = {
  us: "https://cdp.customer.io",
  eu: "https://cdp-eu.customer.io"
} as const

/**
 * @category models
 * @since 0.1.0
 */
export type Region = keyof typeof regionHosts

/**
 * Options of a client. Durations take milliseconds (as the original library does) or any `Duration.Input`
 * such as `"10 seconds"`.
 *
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The API key of your Customer.io source. A secret: it is never logged, printed or emitted. */
  readonly writeKey: string | Redacted.Redacted<string>
  /**
   * Base URL of the API; a path prefix is kept (`https://proxy.example/cio` → `https://proxy.example/cio/v1/batch`).
   * Overrides `region`.
   * @default "https://cdp.customer.io"
   */
  readonly host?: string | undefined
  /** @default "/v1/batch" */
  readonly path?: string | undefined
  /**
   * `"eu"` sends to `https://cdp-eu.customer.io`. Ignored when `host` is given.
   * @default "us"
   */
  readonly region?: Region | undefined
  /** Messages per request. @default 20 */
  readonly maxEventsInBatch?: number | undefined
  /** A queued message waits at most this long before it is sent. @default 10000 (ms) */
  readonly flushInterval?: Duration.Input | undefined
  /** Retries per batch after the first attempt. @default 10 */
  readonly maxRetries?: number | undefined
  /** Timeout of one HTTP attempt. @default 10000 (ms) */
  readonly httpRequestTimeout?: Duration.Input | undefined
  /** Messages accepted but not yet handed to a request; past it calls fail with `QueueFull`. @default 100000 */
  readonly maxQueueSize?: number | undefined
  /**
   * What a call does when the queue is full: `"fail"` refuses it with `QueueFull` at once; `"suspend"` (Effect API
   * only, for batch jobs such as backfills) waits for room.
   * @default "fail"
   */
  readonly overflow?: "fail" | "suspend" | undefined
  /** Batches in flight at once. @default 4 */
  readonly maxConcurrentRequests?: number | undefined
  /** When true nothing is sent; calls, callbacks and close complete normally. @default false */
  readonly disable?: boolean | undefined
  /** `"gzip"` compresses request bodies (`Content-Encoding: gzip`). @default "none" */
  readonly compression?: "gzip" | "none" | undefined
  /** Sends `X-Strict-Mode: 1`: the API then answers 400/401 for invalid data instead of 200. @default false */
  readonly strictMode?: boolean | undefined
  /** How long closing waits for queued and in-flight messages before failing them with `FlushTimeout`. @default 75000 (ms) */
  readonly closeTimeout?: Duration.Input | undefined
}

/**
 * Options after validation, with every default applied and durations in milliseconds.
 *
 * @category models
 * @since 0.1.0
 */
export interface Resolved {
  readonly writeKey: Redacted.Redacted<string>
  /** `host` + `path`: where batches are posted. */
  readonly url: string
  readonly maxEventsInBatch: number
  readonly flushIntervalMillis: number
  readonly maxRetries: number
  readonly httpRequestTimeoutMillis: number
  readonly maxQueueSize: number
  readonly overflow: "fail" | "suspend"
  readonly maxConcurrentRequests: number
  readonly disable: boolean
  readonly compression: "gzip" | "none"
  readonly strictMode: boolean
  readonly closeTimeoutMillis: number
}

/**
 * The defaults, in one place.
 *
 * @category constants
 * @since 0.1.0
 */
export const defaults = {
  host: regionHosts.us,
  path: "/v1/batch",
  maxEventsInBatch: 20,
  flushIntervalMillis: 10_000,
  maxRetries: 10,
  httpRequestTimeoutMillis: 10_000,
  maxQueueSize: 100_000,
  overflow: "fail",
  maxConcurrentRequests: 4,
  disable: false,
  compression: "none",
  strictMode: false,
  closeTimeoutMillis: 75_000
} as const

class Invalid {
  readonly option: string
  readonly rule: string
  constructor(option: string, rule: string) {
    this.option = option
    this.rule = rule
  }
}

const integer = (option: string, value: unknown, fallback: number, min: number): number => {
  if (value === undefined) return fallback
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new Invalid(option, `must be an integer of at least ${min}, got ${describe(value)}`)
  }
  return value
}

const millis = (option: string, value: unknown, fallback: number, min: number): number => {
  if (value === undefined) return fallback
  const duration = typeof value === "number" && !Number.isFinite(value)
    ? Option.none()
    : Duration.fromInput(value as Duration.Input)
  const ms = Option.isSome(duration) ? Duration.toMillis(duration.value) : Number.NaN
  if (!Number.isFinite(ms) || ms < min) {
    throw new Invalid(
      option,
      `must be a duration of at least ${min} ms (a number of milliseconds or e.g. "10 seconds"), got ${describe(value)}`
    )
  }
  return ms
}

const oneOf = <const A extends string>(option: string, value: unknown, choices: ReadonlyArray<A>, fallback: A): A => {
  if (value === undefined) return fallback
  if (!choices.includes(value as A)) {
    throw new Invalid(option, `must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${describe(value)}`)
  }
  return value as A
}

const boolean = (option: string, value: unknown, fallback: boolean): boolean => {
  if (value === undefined) return fallback
  if (typeof value !== "boolean") throw new Invalid(option, `must be a boolean, got ${describe(value)}`)
  return value
}

const describe = (value: unknown): string =>
  typeof value === "string" ? JSON.stringify(value) : typeof value === "object" ? "an object" : String(value)

const writeKeyOf = (value: unknown): Redacted.Redacted<string> => {
  const raw = Redacted.isRedacted(value) ? Redacted.value(value) : value
  if (raw === undefined || raw === null || raw === "") {
    throw new Invalid("writeKey", "is missing: pass the API key of your Customer.io source")
  }
  if (typeof raw !== "string") throw new Invalid("writeKey", "must be a string")
  // Never echo the key itself in the message.
  if (raw.trim() !== raw) throw new Invalid("writeKey", "has leading or trailing whitespace")
  return Redacted.isRedacted(value) ? (value as Redacted.Redacted<string>) : Redacted.make(raw)
}

const urlOf = (hostOption: unknown, regionOption: unknown, pathOption: unknown): string => {
  const region = oneOf("region", regionOption, ["us", "eu"] as const, "us")
  const host = hostOption ?? regionHosts[region]
  if (typeof host !== "string") throw new Invalid("host", `must be a URL string, got ${describe(host)}`)
  let parsed: URL
  try {
    parsed = new URL(host)
  } catch {
    throw new Invalid("host", `must be an absolute http(s) URL, got ${describe(host)}`)
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new Invalid("host", `must use http or https, got ${describe(parsed.protocol)}`)
  }
  if (parsed.username !== "" || parsed.password !== "" || parsed.search !== "" || parsed.hash !== "") {
    throw new Invalid("host", "must not carry credentials, a query or a fragment")
  }
  const path = pathOption ?? defaults.path
  if (typeof path !== "string" || !path.startsWith("/")) {
    throw new Invalid("path", `must be a string starting with "/", got ${describe(path)}`)
  }
  return parsed.origin + parsed.pathname.replace(/\/+$/, "") + path
}

/**
 * Validates options and applies the defaults. Fails with an `InvalidOption` reason naming the option.
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (options: Options): Result.Result<Resolved, AnalyticsError> => {
  // Options come from plain JavaScript too: check what is really there, not what the type promises.
  const o = (typeof options === "object" && options !== null ? options : {}) as Record<string, unknown>
  try {
    return Result.succeed({
      writeKey: writeKeyOf(o.writeKey),
      url: urlOf(o.host, o.region, o.path),
      maxEventsInBatch: integer("maxEventsInBatch", o.maxEventsInBatch, defaults.maxEventsInBatch, 1),
      flushIntervalMillis: millis("flushInterval", o.flushInterval, defaults.flushIntervalMillis, 0),
      maxRetries: integer("maxRetries", o.maxRetries, defaults.maxRetries, 0),
      httpRequestTimeoutMillis: millis(
        "httpRequestTimeout",
        o.httpRequestTimeout,
        defaults.httpRequestTimeoutMillis,
        1
      ),
      maxQueueSize: integer("maxQueueSize", o.maxQueueSize, defaults.maxQueueSize, 1),
      overflow: oneOf("overflow", o.overflow, ["fail", "suspend"] as const, defaults.overflow),
      maxConcurrentRequests: integer(
        "maxConcurrentRequests",
        o.maxConcurrentRequests,
        defaults.maxConcurrentRequests,
        1
      ),
      disable: boolean("disable", o.disable, defaults.disable),
      compression: oneOf("compression", o.compression, ["gzip", "none"] as const, defaults.compression),
      strictMode: boolean("strictMode", o.strictMode, defaults.strictMode),
      closeTimeoutMillis: millis("closeTimeout", o.closeTimeout, defaults.closeTimeoutMillis, 0)
    })
  } catch (e) {
    if (e instanceof Invalid) {
      return Result.fail(new AnalyticsError({ reason: new InvalidOption({ option: e.option, rule: e.rule }) }))
    }
    throw e
  }
}

const durationFromEnv = (name: string) =>
  Config.option(Config.String(name)).pipe(
    // "250" means milliseconds, as in the constructor; "10 seconds" is a Duration string.
    Config.map(Option.map((s): Duration.Input => /^\d+$/.test(s.trim()) ? Number(s) : (s.trim() as Duration.Input)))
  )

/**
 * Reads `Options` from Effect's `Config` (environment variables by default):
 * `CUSTOMERIO_WRITE_KEY` (required), `CUSTOMERIO_HOST`, `CUSTOMERIO_REGION`, `CUSTOMERIO_PATH`,
 * `CUSTOMERIO_MAX_EVENTS_IN_BATCH`, `CUSTOMERIO_FLUSH_INTERVAL`, `CUSTOMERIO_MAX_RETRIES`,
 * `CUSTOMERIO_HTTP_REQUEST_TIMEOUT`, `CUSTOMERIO_MAX_QUEUE_SIZE`, `CUSTOMERIO_MAX_CONCURRENT_REQUESTS`,
 * `CUSTOMERIO_DISABLE`, `CUSTOMERIO_COMPRESSION`, `CUSTOMERIO_STRICT_MODE`, `CUSTOMERIO_CLOSE_TIMEOUT`.
 * Durations are milliseconds (`"10000"`) or Duration strings (`"10 seconds"`).
 *
 * @category config
 * @since 0.1.0
 */
export const config: Config.Config<Options> = Config.all({
  writeKey: Config.Redacted("CUSTOMERIO_WRITE_KEY"),
  host: Config.option(Config.String("CUSTOMERIO_HOST")),
  region: Config.option(Config.Literals(["us", "eu"], "CUSTOMERIO_REGION")),
  path: Config.option(Config.String("CUSTOMERIO_PATH")),
  maxEventsInBatch: Config.option(Config.Int("CUSTOMERIO_MAX_EVENTS_IN_BATCH")),
  flushInterval: durationFromEnv("CUSTOMERIO_FLUSH_INTERVAL"),
  maxRetries: Config.option(Config.Int("CUSTOMERIO_MAX_RETRIES")),
  httpRequestTimeout: durationFromEnv("CUSTOMERIO_HTTP_REQUEST_TIMEOUT"),
  maxQueueSize: Config.option(Config.Int("CUSTOMERIO_MAX_QUEUE_SIZE")),
  maxConcurrentRequests: Config.option(Config.Int("CUSTOMERIO_MAX_CONCURRENT_REQUESTS")),
  disable: Config.option(Config.Boolean("CUSTOMERIO_DISABLE")),
  compression: Config.option(Config.Literals(["gzip", "none"], "CUSTOMERIO_COMPRESSION")),
  strictMode: Config.option(Config.Boolean("CUSTOMERIO_STRICT_MODE")),
  closeTimeout: durationFromEnv("CUSTOMERIO_CLOSE_TIMEOUT")
}).pipe(
  Config.map(({ writeKey, ...rest }): Options => {
    const options: Record<string, unknown> = { writeKey }
    for (const [key, value] of Object.entries(rest) as Array<[string, Option.Option<unknown>]>) {
      if (Option.isSome(value)) options[key] = value.value
    }
    return options as unknown as Options
  })
)
