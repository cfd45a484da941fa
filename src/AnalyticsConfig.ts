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
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import { AnalyticsError, InvalidOption } from "./AnalyticsError.ts"
import { nearest } from "./internal/nearest.ts"

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
  /**
   * The least severe of the client's own log lines that are written: final delivery failures, refusals and the close
   * timeout are logged as `"Warn"` (once per cause and minute); `"None"` silences them. Without it the logger's own
   * minimum applies (Effect's `References.MinimumLogLevel`, `"Info"` by default).
   */
  readonly logLevel?: LogLevel.LogLevel | undefined
  /** Logs every request and answer at `"Debug"` (the write key redacted), and lowers `logLevel` to it. @default false */
  readonly debug?: boolean | undefined
  /**
   * Refuses a call with a key its type does not have (`propertes` for `properties`) with a `ValidationError`
   * naming it. Without it such a key is dropped from the message and logged once.
   * @default false
   */
  readonly strictParams?: boolean | undefined
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
  /** `undefined`: the logger's own minimum applies. */
  readonly logLevel: LogLevel.LogLevel | undefined
  readonly debug: boolean
  readonly strictParams: boolean
  /** Options given that the client does not know, each with what was probably meant: logged once at start. */
  readonly unknownOptions: ReadonlyArray<string>
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
  closeTimeoutMillis: 75_000,
  debug: false,
  strictParams: false
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

// Letter case is forgiven: "EU" and "eu" are the same region, "gzip" and "GZIP" the same compression.
const oneOf = <const A extends string>(option: string, value: unknown, choices: ReadonlyArray<A>, fallback: A): A => {
  if (value === undefined) return fallback
  const chosen = typeof value === "string"
    ? choices.find((choice) => choice.toLowerCase() === value.toLowerCase())
    : undefined
  if (chosen === undefined) {
    throw new Invalid(option, `must be one of ${choices.map((c) => `"${c}"`).join(", ")}, got ${describe(value)}`)
  }
  return chosen
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
    throw new Invalid("writeKey", "is missing: it is the API key of your Customer.io source")
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
  const prefix = parsed.pathname.replace(/\/+$/, "")
  // A host copied with its path would post to /v1/batch/v1/batch, which only ever answers 404.
  if (prefix.endsWith(path)) {
    throw new Invalid(
      "host",
      `ends in "${path}", which the client adds itself: use ${describe(parsed.origin + prefix.slice(0, -path.length))}`
    )
  }
  return parsed.origin + prefix + path
}

/** Every option's name, and the environment variable `config` reads it from. */
const variables = {
  writeKey: "CUSTOMERIO_WRITE_KEY",
  host: "CUSTOMERIO_HOST",
  path: "CUSTOMERIO_PATH",
  region: "CUSTOMERIO_REGION",
  maxEventsInBatch: "CUSTOMERIO_MAX_EVENTS_IN_BATCH",
  flushInterval: "CUSTOMERIO_FLUSH_INTERVAL",
  maxRetries: "CUSTOMERIO_MAX_RETRIES",
  httpRequestTimeout: "CUSTOMERIO_HTTP_REQUEST_TIMEOUT",
  maxQueueSize: "CUSTOMERIO_MAX_QUEUE_SIZE",
  overflow: "CUSTOMERIO_OVERFLOW",
  maxConcurrentRequests: "CUSTOMERIO_MAX_CONCURRENT_REQUESTS",
  disable: "CUSTOMERIO_DISABLE",
  compression: "CUSTOMERIO_COMPRESSION",
  strictMode: "CUSTOMERIO_STRICT_MODE",
  closeTimeout: "CUSTOMERIO_CLOSE_TIMEOUT",
  logLevel: "CUSTOMERIO_LOG_LEVEL",
  debug: "CUSTOMERIO_DEBUG",
  strictParams: "CUSTOMERIO_STRICT_PARAMS"
} as const satisfies { readonly [K in keyof Options]-?: string }

/** Options set by the facade alone, which `resolve` is never given but must not call unknown. */
const facadeOnly = ["httpClientLayer", "outbox"]

/** Other libraries' names for an option (Segment's, the original's documentation's), and what they are here. */
const synonyms: Readonly<Record<string, string>> = {
  flushAt: "maxEventsInBatch",
  endpoint: "host",
  httpClient: "httpClientLayer",
  maxTotalBackoffDuration: "maxRetries",
  maxRateLimitDuration: "maxRetries",
  timeout: "httpRequestTimeout",
  gzip: "compression"
}

const knownOptions: ReadonlyArray<string> = [...Object.keys(variables), ...facadeOnly]

const unknownOptionsOf = (o: Record<string, unknown>): Array<string> =>
  Object.keys(o).filter((key) => !knownOptions.includes(key) && o[key] !== undefined).map((key) => {
    const meant = synonyms[key] ?? nearest(key, knownOptions)
    return meant === undefined
      ? `option "${key}" is not an option of this client: it is ignored`
      : `option "${key}" is not an option of this client: it is ignored (did you mean "${meant}"?)`
  })

/** Marks options read by {@link config}, so errors name the environment variable rather than the option. */
const fromEnvironment = Symbol.for("cdp-analytics-effect/AnalyticsConfig/fromEnvironment")

/**
 * Validates options and applies the defaults. Fails with an `InvalidOption` reason naming the option (or, for
 * options read by {@link config}, the environment variable).
 *
 * @category constructors
 * @since 0.1.0
 */
export const resolve = (options: Options): Result.Result<Resolved, AnalyticsError> => {
  // Options come from plain JavaScript too: check what is really there, not what the type promises.
  const o = (typeof options === "object" && options !== null ? options : {}) as Record<string, unknown>
  try {
    const debug = boolean("debug", o.debug, defaults.debug)
    const logLevel = o.logLevel === undefined
      ? (debug ? "Debug" : undefined)
      : oneOf("logLevel", o.logLevel, LogLevel.values, "Info")
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
      closeTimeoutMillis: millis("closeTimeout", o.closeTimeout, defaults.closeTimeoutMillis, 0),
      logLevel,
      debug,
      strictParams: boolean("strictParams", o.strictParams, defaults.strictParams),
      unknownOptions: unknownOptionsOf(o)
    })
  } catch (e) {
    if (e instanceof Invalid) {
      const variable = (o as Record<symbol, unknown>)[fromEnvironment] === true
        ? variables[e.option as keyof typeof variables]
        : undefined
      const reason = new InvalidOption({ option: e.option, rule: e.rule, ...(variable ? { variable } : {}) })
      return Result.fail(new AnalyticsError({ reason }))
    }
    throw e
  }
}

// Environment values are text: numbers and booleans are converted when they look like one, and otherwise left as
// text for `resolve` to refuse with its usual message (`CUSTOMERIO_MAX_RETRIES must be an integer …, got "ten"`).
const asNumber = (text: string): string | number => /^\s*-?\d+(\.\d+)?\s*$/.test(text) ? Number(text) : text.trim()

const asBoolean = (text: string): string | boolean => {
  const value = text.trim().toLowerCase()
  return value === "true" || value === "1" || value === "yes" || value === "on"
    ? true
    : value === "false" || value === "0" || value === "no" || value === "off"
    ? false
    : text
}

const numeric = new Set<string>([
  "maxEventsInBatch",
  "flushInterval",
  "maxRetries",
  "httpRequestTimeout",
  "maxQueueSize",
  "maxConcurrentRequests",
  "closeTimeout"
])
const booleans = new Set<string>(["disable", "strictMode", "debug", "strictParams"])

/**
 * Reads `Options` from Effect's `Config` (environment variables by default): `CUSTOMERIO_WRITE_KEY` (required),
 * `CUSTOMERIO_HOST`, `CUSTOMERIO_REGION`, `CUSTOMERIO_PATH`, `CUSTOMERIO_MAX_EVENTS_IN_BATCH`,
 * `CUSTOMERIO_FLUSH_INTERVAL`, `CUSTOMERIO_MAX_RETRIES`, `CUSTOMERIO_HTTP_REQUEST_TIMEOUT`,
 * `CUSTOMERIO_MAX_QUEUE_SIZE`, `CUSTOMERIO_OVERFLOW`, `CUSTOMERIO_MAX_CONCURRENT_REQUESTS`, `CUSTOMERIO_DISABLE`,
 * `CUSTOMERIO_COMPRESSION`, `CUSTOMERIO_STRICT_MODE`, `CUSTOMERIO_CLOSE_TIMEOUT`, `CUSTOMERIO_LOG_LEVEL`,
 * `CUSTOMERIO_DEBUG`, `CUSTOMERIO_STRICT_PARAMS`. Durations are milliseconds (`"10000"`) or Duration strings
 * (`"10 seconds"`); choices ignore letter case (`CUSTOMERIO_REGION=EU`). Nothing is checked here: the client checks
 * the options, and names the variable when one is wrong (`CUSTOMERIO_REGION must be one of "us", "eu", got "mars"`).
 *
 * @category config
 * @since 0.1.0
 */
export const config: Config.Config<Options> = Config.all(
  Object.fromEntries(
    Object.entries(variables).map(([option, variable]) => [option, Config.option(Config.String(variable))])
  ) as { readonly [K in keyof typeof variables]: Config.Config<Option.Option<string>> }
).pipe(
  Config.map((values): Options => {
    const options: Record<string | symbol, unknown> = { [fromEnvironment]: true }
    for (const [option, value] of Object.entries(values) as Array<[string, Option.Option<string>]>) {
      if (Option.isNone(value)) continue
      options[option] = option === "writeKey"
        ? Redacted.make(value.value)
        : numeric.has(option)
        ? asNumber(value.value)
        : booleans.has(option)
        ? asBoolean(value.value)
        : value.value.trim()
    }
    return options as unknown as Options
  })
)
