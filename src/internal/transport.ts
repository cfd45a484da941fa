/**
 * Sends one batch to the Pipelines API through an `HttpClient`, and keeps at it until the batch is delivered or has
 * finally failed; every outcome goes to the caller's `Outcome`, once per part of the batch.
 *
 * - 2xx: delivered. 413: the batch is split in half and each half is sent on its own (one message that gets 413
 *   fails). 408, 410, 429 and 5xx other than 501/505, network errors and timeouts: retried. Any other status: final.
 * - Retries wait {@link backoffMillis}: exponential from 500 ms, factor 2, full jitter, capped at 60 s.
 * - A `Retry-After` on a retryable answer pauses every request of the client until then; that wait does not use
 *   up a retry. A request waits until no pause is in force, however often a pause is extended while it waits.
 * - The request body is built from the messages' JSON once per batch; only `sentAt` changes between attempts (with
 *   gzip, the batch is compressed once). At most {@link maxResponseBytes} of an answer are read.
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { constTrue } from "effect/Function"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import type * as AnalyticsConfig from "../AnalyticsConfig.ts"
import { AnalyticsError, HttpError, isRetryableStatus, TransportError } from "../AnalyticsError.ts"
import * as Body from "./body.ts"
import { libraryName, libraryVersion } from "./version.ts"

/** What the transport needs of a queued message: its JSON, encoded once at enqueue. */
export interface Payload {
  readonly json: string
  /** What the last finished attempt to send it got: a close that gives up on it says so. */
  lastError?: AnalyticsError | undefined
}

/**
 * Told once for each part of a batch that is settled: the whole batch, or the halves of a batch split after a 413.
 * `error` is `undefined` when the part was delivered.
 */
export type Outcome<A> = (part: ReadonlyArray<A>, error: AnalyticsError | undefined) => void

/** An HTTP attempt, as the facade's `http_request` event shows it; the `Authorization` header is redacted. */
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

/** The answer to an attempt, as the facade's `http_response` event shows it. */
export interface ResponseInfo {
  readonly url: string
  /** The HTTP status, or `undefined` when no answer came (network error or timeout). */
  readonly status: number | undefined
  readonly headers: Readonly<Record<string, string>>
  readonly durationMillis: number
  readonly retryCount: number
}

/**
 * Told about every HTTP attempt. `describe` builds what the facade's `http_request`/`http_response` events show, only
 * when called: most attempts are seen by metrics alone.
 */
export interface Observer {
  readonly onRequest?: ((retryCount: number, describe: () => RequestInfo) => void) | undefined
  readonly onResponse?: ((durationMillis: number, describe: () => ResponseInfo) => void) | undefined
}

export interface Options {
  readonly config: AnalyticsConfig.Resolved
  readonly observer?: Observer | undefined
}

export interface Transport {
  /** Never fails: every outcome goes to `outcome`. Interrupting it leaves the unsettled parts to the caller. */
  readonly send: <A extends Payload>(batch: ReadonlyArray<A>, outcome: Outcome<A>) => Effect.Effect<void>
}

/** The shortest and longest pause a `Retry-After` can ask for; outside values are clamped. */
const retryAfterBounds = { min: 1_000, max: 300_000 } as const

/**
 * How many `Retry-After` pauses one batch may take. They do not count as retries, but a server that asks for a
 * pause forever must not hold a batch forever.
 */
const maxRetryAfterPauses = 10

/**
 * The most of an answer's body that is read: the API answers with a few bytes, and an error message keeps 500
 * characters of it. A proxy that answers with megabytes must not cost megabytes.
 */
export const maxResponseBytes = 64 * 1024

/** Characters of an answer's body kept in an `HttpError`. */
const keptBodyChars = 500

/**
 * The wait before retry `retry` (1 for the first): exponential from 500 ms with factor 2, capped at 60 s, with full
 * jitter (`random`, in [0, 1), times the capped value). A batch is retried at most `maxRetries` times, and only
 * while its error is retryable.
 *
 * A loop with this function, rather than `Effect.retry` with a `Schedule`: building and stepping a schedule cost a
 * sixth of a request's CPU (profiled in docs/performance.md), for the same waits on the same `Clock`.
 */
export const backoffMillis = (retry: number, random: number): number =>
  random * Math.min(500 * 2 ** (retry - 1), 60_000)

/** One attempt's outcome, before it is judged. */
type Answer =
  | {
    readonly _tag: "Status"
    readonly status: number
    readonly headers: Headers.Headers
    readonly body: string
  }
  | { readonly _tag: "NoAnswer"; readonly description: string; readonly code: string | undefined }

const decoder = new TextDecoder()

/** What to check for a network error, by its code. */
const hints: ReadonlyArray<readonly [RegExp, (origin: string) => string]> = [
  [
    /^(ENOTFOUND|EAI_AGAIN|EAI_NONAME)$/,
    (origin) => `the host name of ${origin} does not resolve: check the "host" option`
  ],
  [/^ECONNREFUSED$/, (origin) => `nothing accepts connections at ${origin}: check the "host" option and its port`],
  [/^(EHOSTUNREACH|ENETUNREACH|ENETDOWN)$/, (origin) => `${origin} cannot be reached from this network`],
  [/^(ECONNRESET|EPIPE|UND_ERR_SOCKET|UND_ERR_CLOSED)$/, () => "the connection was closed before an answer came"],
  [/^(ETIMEDOUT|ECONNABORTED|UND_ERR_CONNECT_TIMEOUT)$/, () => "the connection timed out"],
  [
    /CERT|^UNABLE_TO_|^ERR_TLS_|^ERR_SSL_|SELF_SIGNED/,
    (origin) => `the TLS certificate of ${origin} was refused: check the "host" option (a proxy or a wrong host)`
  ]
]

/**
 * The cause of a failed request as one line: its own message, its code, and what to check. Fetch wraps the network
 * error (`TypeError: fetch failed` with the `ENOTFOUND` error as its cause), so the chain is followed to the first
 * error that has a code.
 */
const explain = (
  error: unknown,
  origin: string
): { readonly description: string; readonly code: string | undefined } => {
  let message: string | undefined
  let code: string | undefined
  let current: unknown = error
  // The deepest message is the most specific one; the code comes with the error that carries it.
  for (let depth = 0; depth < 8 && current !== null && typeof current === "object"; depth++) {
    const candidate = current as {
      readonly code?: unknown
      readonly message?: unknown
      readonly reason?: unknown
      readonly cause?: unknown
    }
    if (typeof candidate.message === "string" && candidate.message !== "") message = candidate.message
    if (typeof candidate.code === "string") code = candidate.code
    current = candidate.reason ?? candidate.cause
  }
  const text = message ?? String(error)
  const hint = code === undefined ? undefined : hints.find(([pattern]) => pattern.test(code))?.[1](origin)
  const withCode = code === undefined || text.includes(code) ? text : `${text} (${code})`
  return { description: hint === undefined ? withCode : `${withCode}: ${hint}`, code }
}

/**
 * Reads at most `maxResponseBytes` of the body; the rest is left unread (the connection is then not reused). An
 * answer that declares a small enough length is read whole at once: streaming it costs far more per request.
 */
const readCapped = (
  response: HttpClientResponse.HttpClientResponse
): Effect.Effect<string, HttpClientError.HttpClientError> => {
  const declared = response.headers["content-length"]
  if (declared !== undefined && Number(declared) <= maxResponseBytes) return response.text
  return readStreamCapped(response)
}

const readStreamCapped = (response: HttpClientResponse.HttpClientResponse) =>
  Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    return Stream.runForEachWhile(response.stream, (chunk) =>
      Effect.sync(() => {
        chunks.push(chunk.byteLength + size > maxResponseBytes ? chunk.subarray(0, maxResponseBytes - size) : chunk)
        size += chunk.byteLength
        return size < maxResponseBytes
      })).pipe(
        Effect.map(() => chunks.map((chunk) => decoder.decode(chunk, { stream: true })).join("") + decoder.decode()),
        // An answer without a body is an empty body.
        Effect.catchReason("HttpClientError", "EmptyBodyError", () => Effect.succeed(""))
      )
  })

/**
 * Builds a transport for one client. The `HttpClient` comes from the environment, so users pick the implementation
 * (fetch, node:http, undici, a proxy, a mock).
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const { config } = options
  const observer = options.observer ?? {}
  const http = yield* HttpClient.HttpClient
  const clock = yield* Clock.Clock
  const random = yield* Random.Random
  // A client span per request costs about a tenth of the client's CPU at the default batch size (profiled in
  // docs/performance.md); with no tracer installed nobody would see it, so it is skipped, as Effect's own HttpRouter
  // does. Trace headers (b3, traceparent) would tell the API about the caller's spans; it has no use for them.
  const traced = (yield* Tracer.Tracer) !== Tracer.nativeTracer
  const execute = (req: HttpClientRequest.HttpClientRequest) =>
    traced
      ? Effect.provideService(http.execute(req), HttpClient.TracerPropagationEnabled, false)
      : http.execute(req).pipe(
        Effect.provideService(HttpClient.TracerPropagationEnabled, false),
        Effect.provideService(HttpClient.TracerDisabledWhen, constTrue)
      )
  const writeKey = Redacted.value(config.writeKey)
  const origin = new URL(config.url).origin
  const baseRequest = HttpClientRequest.post(config.url).pipe(
    HttpClientRequest.basicAuth(config.writeKey, ""),
    HttpClientRequest.setHeaders({
      "user-agent": `${libraryName}/${libraryVersion}`,
      ...(config.strictMode ? { "x-strict-mode": "1" } : {}),
      ...(config.compression === "gzip" ? { "content-encoding": "gzip" } : {})
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

  // Looks again after every sleep: another batch may have extended the pause meanwhile.
  const waitWhilePaused: Effect.Effect<void> = Effect.suspend(() => {
    const left = pausedUntil - clock.currentTimeMillisUnsafe()
    return left > 0 ? Effect.andThen(Effect.sleep(Duration.millis(left)), waitWhilePaused) : Effect.void
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

  const request = Effect.fnUntraced(function*(body: Body.Body, retryCount: number) {
    const sentAt = new Date(clock.currentTimeMillisUnsafe()).toISOString()
    const base = retryCount === 0
      ? baseRequest
      : HttpClientRequest.setHeader(baseRequest, "x-retry-count", String(retryCount))
    const req = config.compression === "gzip"
      ? HttpClientRequest.bodyUint8Array(base, yield* body.gzip(sentAt), "application/json")
      : HttpClientRequest.bodyText(base, body.text(sentAt), "application/json")
    observer.onRequest?.(retryCount, () => ({
      url: config.url,
      method: "POST",
      headers: { ...req.headers, authorization: "<redacted>" },
      body: body.text(sentAt),
      messages: body.messages,
      retryCount
    }))
    const started = clock.currentTimeMillisUnsafe()
    const answer: Answer = yield* execute(req).pipe(
      Effect.flatMap((response) =>
        Effect.map(readCapped(response), (text): Answer => {
          // Scrubbed before it is cut, so a key straddling the cut leaves no part of itself behind.
          const scrubbed = scrub(text)
          return {
            _tag: "Status",
            status: response.status,
            headers: response.headers,
            body: scrubbed.length > keptBodyChars ? `${scrubbed.slice(0, keptBodyChars)}…` : scrubbed
          }
        })
      ),
      Effect.timeoutOrElse({
        duration: Duration.millis(config.httpRequestTimeoutMillis),
        orElse: () =>
          Effect.succeed<Answer>({
            _tag: "NoAnswer",
            description: `no answer within httpRequestTimeout (${config.httpRequestTimeoutMillis} ms)`,
            code: "TIMEOUT"
          })
      }),
      Effect.catch((error) => {
        const { code, description } = explain(error, origin)
        return Effect.succeed<Answer>({ _tag: "NoAnswer", description: scrub(description), code })
      })
    )
    const durationMillis = clock.currentTimeMillisUnsafe() - started
    observer.onResponse?.(durationMillis, () => ({
      url: config.url,
      status: answer._tag === "Status" ? answer.status : undefined,
      headers: answer._tag === "Status" ? scrubHeaders(answer.headers) : {},
      durationMillis,
      retryCount
    }))
    return answer
  })

  /**
   * One attempt as the retry schedule sees it. Answers with `Retry-After` are re-sent inside the attempt after the
   * client-wide pause, so they do not count against `maxRetries` (they have a budget of their own).
   */
  const attempt = (body: Body.Body, state: { sends: number; pauses: number }) =>
    Effect.gen(function*() {
      while (true) {
        yield* waitWhilePaused
        const answer = yield* request(body, state.sends++)
        if (answer._tag === "NoAnswer") {
          const reason = new TransportError({
            description: answer.description,
            ...(answer.code === undefined ? {} : { code: answer.code })
          })
          return yield* new AnalyticsError({ reason })
        }
        const { status } = answer
        if (status >= 200 && status < 300) return
        const retryAfter = answer.headers["retry-after"]
        if (
          isRetryableStatus(status) && retryAfter !== undefined && state.pauses < maxRetryAfterPauses
          && pauseFor(retryAfter)
        ) {
          state.pauses++
          continue
        }
        return yield* new AnalyticsError({ reason: new HttpError({ status, body: answer.body, url: config.url }) })
      }
    })

  const sendParts = <A extends Payload>(batch: ReadonlyArray<A>, outcome: Outcome<A>): Effect.Effect<void> =>
    Effect.suspend(() => {
      const body = Body.make(batch.map((m) => m.json))
      const state = { sends: 0, pauses: 0 }
      const attempts = (retries: number): Effect.Effect<void> =>
        Effect.matchEffect(attempt(body, state), {
          onSuccess: () => Effect.sync(() => outcome(batch, undefined)),
          onFailure: (error) => {
            for (const message of batch) message.lastError = error
            if (error.isRetryable && retries < config.maxRetries) {
              const wait = backoffMillis(retries + 1, random.nextDoubleUnsafe())
              return Effect.andThen(Effect.sleep(Duration.millis(wait)), attempts(retries + 1))
            }
            if (error.reason._tag === "HttpError" && error.reason.status === 413 && batch.length > 1) {
              const half = Math.ceil(batch.length / 2)
              return Effect.andThen(sendParts(batch.slice(0, half), outcome), sendParts(batch.slice(half), outcome))
            }
            return Effect.sync(() => outcome(batch, error))
          }
        })
      return attempts(0)
    })

  const send = <A extends Payload>(batch: ReadonlyArray<A>, outcome: Outcome<A>): Effect.Effect<void> =>
    config.disable ? Effect.sync(() => outcome(batch, undefined)) : sendParts(batch, outcome).pipe(
      // A defect (a broken HttpClient layer, a bug) must still settle the batch, never strand it. Parts already
      // settled (a 413 half) are not settled again.
      Effect.catchDefect((defect) =>
        Effect.sync(() => {
          const description = scrub(`unexpected defect: ${defect instanceof Error ? defect.message : String(defect)}`)
          outcome(batch, new AnalyticsError({ reason: new TransportError({ description }) }))
        })
      )
    )

  return { send } satisfies Transport
})
