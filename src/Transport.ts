/**
 * Sends one batch to the Pipelines API through an `HttpClient`, and keeps at it until the batch is delivered or
 * has finally failed.
 *
 * - 2xx: delivered. 413: the batch is split in half and each half is sent on its own (one message that gets 413
 *   fails). 408, 410, 429 and 5xx other than 501/505, network errors and timeouts: retried. Any other status: final.
 * - Retries follow {@link retrySchedule}: exponential from 500 ms, factor 2, full jitter, capped at 60 s.
 * - A `Retry-After` on a retryable answer pauses every request of the client until then; that wait does not use
 *   up a retry.
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constTrue, identity } from "effect/Function"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import * as Tracer from "effect/Tracer"
import type * as AnalyticsConfig from "./AnalyticsConfig.ts"
import { AnalyticsError, HttpError, isRetryableStatus, TransportError } from "./AnalyticsError.ts"
import { libraryName, libraryVersion } from "./internal/version.ts"

/**
 * What the transport needs of a queued message: its JSON, encoded once at enqueue.
 *
 * @category models
 * @since 0.1.0
 */
export interface Payload {
  readonly json: string
}

/**
 * Told about every HTTP attempt; the `Authorization` header is always redacted.
 *
 * @category models
 * @since 0.1.0
 */
export interface Observer {
  readonly onRequest?: ((request: RequestInfo) => void) | undefined
  readonly onResponse?: ((response: ResponseInfo) => void) | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface RequestInfo {
  readonly url: string
  readonly method: "POST"
  readonly headers: Readonly<Record<string, string>>
  /** The JSON body, before compression. */
  readonly body: string
  readonly messages: number
  /** 0 for the first attempt of a batch, then 1, 2, … as sent in `X-Retry-Count`. */
  readonly retryCount: number
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ResponseInfo {
  readonly url: string
  /** The HTTP status, or `undefined` when no answer came (network error or timeout). */
  readonly status: number | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly durationMillis: number
  readonly retryCount: number
}

/**
 * Called once for each part of a batch that is settled: the whole batch, or the halves of a batch split after a 413.
 * `error` is `undefined` when the part was delivered.
 *
 * @category models
 * @since 0.1.0
 */
export type Settle<A> = (part: ReadonlyArray<A>, error: AnalyticsError | undefined) => void

/**
 * @category models
 * @since 0.1.0
 */
export interface Transport {
  /** Never fails: every outcome goes to `settle`. Interrupting it leaves the unsettled parts to the caller. */
  readonly send: <A extends Payload>(batch: ReadonlyArray<A>, settle: Settle<A>) => Effect.Effect<void>
  /** Retries made so far (every request after the first of a batch). */
  readonly retries: () => number
}

/** The shortest and longest pause a `Retry-After` can ask for; outside values are clamped. */
const retryAfterBounds = { min: 1_000, max: 300_000 } as const

/**
 * How many `Retry-After` pauses one batch may take. They do not count as retries, but a server that asks for a
 * pause forever must not hold a batch forever.
 */
const maxRetryAfterPauses = 10

const observedHeaders = (headers: Headers.Headers): Record<string, string> => ({
  ...headers,
  authorization: "<redacted>"
})

/**
 * The backoff between attempts: exponential from 500 ms with factor 2, capped at 60 s, with full jitter (a random
 * delay between 0 and the capped value), for at most `maxRetries` retries, and only while the error is retryable.
 *
 * @category schedules
 * @since 0.1.0
 */
export const retrySchedule = (maxRetries: number): Schedule.Schedule<Duration.Duration, AnalyticsError> =>
  Schedule.exponential("500 millis", 2).pipe(
    Schedule.setInputType<AnalyticsError>(),
    Schedule.while(({ input }) => input.isRetryable),
    Schedule.modifyDelay(({ duration }) =>
      Effect.map(Random.next, (r) => Duration.millis(r * Math.min(Duration.toMillis(duration), 60_000)))
    ),
    Schedule.upTo({ times: maxRetries })
  )

/** One attempt's outcome, before it is judged. */
type Answer =
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly headers: Headers.Headers
    readonly body: string
    readonly retryAfter: string | undefined
  }
  | { readonly _tag: "NoAnswer"; readonly description: string }

/**
 * Builds a transport for one client. The `HttpClient` comes from the environment, so users pick the implementation
 * (fetch, undici, node:http, a proxy, a mock).
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(config: AnalyticsConfig.Resolved, observer: Observer = {}) {
  const http = yield* HttpClient.HttpClient
  const clock = yield* Clock.Clock
  const writeKey = Redacted.value(config.writeKey)
  const baseRequest = HttpClientRequest.post(config.url).pipe(
    HttpClientRequest.basicAuth(config.writeKey, ""),
    HttpClientRequest.setHeaders({
      "user-agent": `${libraryName}/${libraryVersion}`,
      ...(config.strictMode ? { "x-strict-mode": "1" } : {})
    })
  )
  const authorization = baseRequest.headers["authorization"]!
  // A server may echo what it was sent, the Basic token alone included; nothing we keep or emit may carry the key.
  // The whole header goes first: its token would otherwise leave "Basic <redacted>" (harmless, but less clear).
  const secrets = [authorization, authorization.slice("Basic ".length), writeKey]
  const scrub = (text: string): string => secrets.reduce((out, secret) => out.split(secret).join("<redacted>"), text)

  const scrubHeaders = (headers: Headers.Headers): Record<string, string> => {
    const out: Record<string, string> = {}
    for (const [name, value] of Object.entries(headers)) out[name] = scrub(value)
    return out
  }

  let pausedUntil = 0
  let retries = 0

  const waitWhilePaused = Effect.suspend(() => {
    const left = pausedUntil - clock.currentTimeMillisUnsafe()
    return left > 0 ? Effect.sleep(Duration.millis(left)) : Effect.void
  })

  const pauseFor = (retryAfter: string): boolean => {
    const parsed = Headers.parseRetryAfter(retryAfter)
    if (Result.isFailure(parsed)) return false
    const now = clock.currentTimeMillisUnsafe()
    const wanted = Duration.toMillis(Headers.retryAfterDelay(parsed.success, now))
    const delay = Math.min(Math.max(wanted, retryAfterBounds.min), retryAfterBounds.max)
    pausedUntil = Math.max(pausedUntil, now + delay)
    return true
  }

  const request = Effect.fnUntraced(function*(jsons: ReadonlyArray<string>, retryCount: number) {
    const sentAt = new Date(clock.currentTimeMillisUnsafe()).toISOString()
    const json = `{"batch":[${jsons.join(",")}],"sentAt":"${sentAt}"}`
    let req = HttpClientRequest.bodyText(
      retryCount === 0 ? baseRequest : HttpClientRequest.setHeader(baseRequest, "x-retry-count", String(retryCount)),
      json,
      "application/json"
    )
    if (config.compression === "gzip") req = yield* HttpClientRequest.compressBody(req, "gzip", { minSize: 0 })
    observer.onRequest?.({
      url: config.url,
      method: "POST",
      headers: observedHeaders(req.headers),
      body: json,
      messages: jsons.length,
      retryCount
    })
    const started = clock.currentTimeMillisUnsafe()
    // A client span per request costs about a tenth of the client's CPU at the default batch size (profiled in
    // docs/performance.md); with no tracer installed nobody would see it, so it is skipped, as Effect's own
    // HttpRouter does.
    const traced = (yield* Tracer.Tracer) !== Tracer.nativeTracer
    const answer: Answer = yield* http.execute(req).pipe(
      // Trace headers (b3, traceparent) would tell the API about the caller's spans; it has no use for them.
      Effect.provideService(HttpClient.TracerPropagationEnabled, false),
      traced ? identity : Effect.provideService(HttpClient.TracerDisabledWhen, constTrue),
      Effect.flatMap((response) =>
        Effect.map(response.text, (body): Answer => ({
          _tag: "Status",
          status: response.status,
          headers: response.headers,
          // Scrubbed before it is cut, so a key straddling the cut leaves no part of itself behind.
          body: ((scrubbed) => scrubbed.length > 500 ? `${scrubbed.slice(0, 500)}…` : scrubbed)(scrub(body)),
          retryAfter: response.headers["retry-after"]
        }))
      ),
      Effect.timeoutOrElse({
        duration: Duration.millis(config.httpRequestTimeoutMillis),
        orElse: () =>
          Effect.succeed<Answer>({
            _tag: "NoAnswer",
            description: `no answer within httpRequestTimeout (${config.httpRequestTimeoutMillis} ms)`
          })
      }),
      Effect.catch((error) => Effect.succeed<Answer>({ _tag: "NoAnswer", description: scrub(error.message) }))
    )
    observer.onResponse?.({
      url: config.url,
      status: answer._tag === "Status" ? answer.status : undefined,
      headers: answer._tag === "Status" ? scrubHeaders(answer.headers) : {},
      durationMillis: clock.currentTimeMillisUnsafe() - started,
      retryCount
    })
    return answer
  })

  /**
   * One attempt as the retry schedule sees it. Answers with `Retry-After` are re-sent inside the attempt after the
   * client-wide pause, so they do not count against `maxRetries` (they have a budget of their own).
   */
  const attempt = (jsons: ReadonlyArray<string>, state: { sends: number; pauses: number }) =>
    Effect.gen(function*() {
      while (true) {
        yield* waitWhilePaused
        if (state.sends > 0) retries++
        const answer = yield* request(jsons, state.sends++)
        if (answer._tag === "NoAnswer") {
          return yield* new AnalyticsError({ reason: new TransportError({ description: answer.description }) })
        }
        const { status } = answer
        if (status >= 200 && status < 300) return
        if (
          isRetryableStatus(status) && answer.retryAfter !== undefined && state.pauses < maxRetryAfterPauses
          && pauseFor(answer.retryAfter)
        ) {
          state.pauses++
          continue
        }
        return yield* new AnalyticsError({ reason: new HttpError({ status, body: answer.body }) })
      }
    })

  const schedule = retrySchedule(config.maxRetries)

  const send = <A extends Payload>(batch: ReadonlyArray<A>, settle: Settle<A>): Effect.Effect<void> => {
    if (config.disable) return Effect.sync(() => settle(batch, undefined))
    return attempt(batch.map((m) => m.json), { sends: 0, pauses: 0 }).pipe(
      Effect.retry(schedule),
      Effect.matchEffect({
        onSuccess: () => Effect.sync(() => settle(batch, undefined)),
        onFailure: (error) => {
          if (error.reason._tag === "HttpError" && error.reason.status === 413 && batch.length > 1) {
            const half = Math.ceil(batch.length / 2)
            return Effect.andThen(send(batch.slice(0, half), settle), send(batch.slice(half), settle))
          }
          return Effect.sync(() => settle(batch, error))
        }
      })
    )
  }

  return { send, retries: () => retries } satisfies Transport
})
