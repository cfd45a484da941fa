/**
 * A local stand-in for the Customer.io Pipelines batch API (`POST /v1/batch`), listening on 127.0.0.1.
 *
 * It checks what the real API checks (Basic auth with the write key, gzip bodies, the 500 KB request and 32 KB
 * message limits, the JSON shape), records what it accepted (de-duplicated by `messageId`, so a retried batch shows
 * up as duplicates) and every request it saw, and can be told at runtime to misbehave: scripted answers (a status with
 * `Retry-After`, latency, a hang, a dropped connection), a seeded failure rate, and going down and up again on the
 * same port. Use it for the demo, for fault-injection tests, and for your own integration tests.
 *
 * ```ts
 * import { Effect } from "effect"
 * import * as Collector from "cdp-analytics-effect/Collector"
 *
 * const program = Effect.gen(function*() {
 *   const collector = yield* Collector.Collector
 *   // point the client at it: AnalyticsClient.layer({ writeKey: "wk", host: collector.url })
 *   yield* collector.script([Collector.Answer.status(503, { retryAfter: 1 })])
 *   const { messages } = yield* collector.waitFor(3)
 * })
 *
 * program.pipe(Effect.provide(Collector.layer({ writeKey: "wk" })), Effect.runPromise) // closing frees the port
 * ```
 *
 * Plain Node tests use {@link start}, which returns a Promise-friendly handle.
 *
 * @since 0.1.0
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as ByteSize from "effect/ByteSize"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Headers from "effect/http/Headers"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerError from "effect/http/HttpServerError"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as Http from "node:http"
import * as Zlib from "node:zlib"
import * as Message from "./Message.ts"

/** Only the loopback interface: the collector is a test tool and must never be reachable from the network. */
const host = "127.0.0.1"

/** The request limit of the Pipelines API (the client's own), measured on the decompressed JSON body. */
const maxBatchBytes = Message.MAX_BATCH_BYTES

/** The limit for one message (the client's own), measured on its JSON in UTF-8 bytes. */
const maxMessageBytes = Message.MAX_MESSAGE_BYTES

/**
 * How much raw body is read at all. Far above `maxBatchBytes`, so an oversized request is read to the end and gets a
 * clean 413 instead of a reset connection, while a runaway client cannot exhaust memory.
 */
const maxWireBytes = 16 * 1024 * 1024

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** The key clients must send as `Authorization: Basic base64(writeKey + ":")`. */
  readonly writeKey: string | Redacted.Redacted<string>
  /**
   * The port on 127.0.0.1. `0` picks a free one; read it back from `url` or `port`.
   *
   * @default 0
   */
  readonly port?: number | undefined
  /**
   * The path of the batch endpoint.
   *
   * @default "/v1/batch"
   */
  readonly path?: `/${string}` | undefined
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
  /** Lower-cased request headers; `authorization` is redacted. */
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

/**
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /** `http://127.0.0.1:<port>`: pass it as the client's `host`. */
  readonly url: string
  readonly port: number
  /** The batch endpoint path. */
  readonly path: string
  /** Accepted messages, de-duplicated by `messageId`, in arrival order. */
  readonly messages: Effect.Effect<ReadonlyArray<ReceivedMessage>>
  readonly requests: Effect.Effect<ReadonlyArray<RequestRecord>>
  readonly stats: Effect.Effect<Stats>
  readonly snapshot: Effect.Effect<Snapshot>
  /** Queues answers, one per coming request, before any failure rate applies. */
  readonly script: (answers: Iterable<Answer>) => Effect.Effect<void>
  /** Sets (or with `rate: 0` clears) the failure rate for requests no scripted answer is left for. */
  readonly failureRate: (options: FailureRate) => Effect.Effect<void>
  /** Stops listening and closes every connection: clients get `ECONNREFUSED` until `up`. */
  readonly down: Effect.Effect<void>
  /** Listens again on the same port. */
  readonly up: Effect.Effect<void, HttpServerError.ServeError>
  readonly isUp: Effect.Effect<boolean>
  /** Forgets every record, scripted answer and failure rate (it does not bring a collector that is down up). */
  readonly reset: Effect.Effect<void>
  /**
   * Waits until `n` distinct messages were accepted, or until the predicate holds, and returns what was recorded
   * then. It wakes on each change, without polling; bound it with `Effect.timeout`.
   */
  readonly waitFor: (condition: number | ((snapshot: Snapshot) => boolean)) => Effect.Effect<Snapshot>
}

/**
 * @category services
 * @since 0.1.0
 */
export class Collector extends Context.Service<Collector, Service>()("cdp-analytics-effect/Collector") {}

interface Failure {
  readonly rate: number
  readonly status: number
  readonly retryAfter: number | string | undefined
  readonly random: Random.Random
}

interface Verdict {
  readonly status: number
  readonly error: string | undefined
  readonly messages: number
  /** Present when accepted. */
  readonly batch: ReadonlyArray<ReceivedMessage> | undefined
}

type Parsed =
  | { readonly _tag: "Batch"; readonly messages: ReadonlyArray<ReceivedMessage> }
  | { readonly _tag: "Invalid"; readonly status: 400 | 413; readonly error: string; readonly messages: number }

const invalid = (status: 400 | 413, error: string, messages = 0): Parsed => ({
  _tag: "Invalid",
  status,
  error,
  messages
})

const isObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const decompress = (body: Uint8Array, encoding: string | undefined): Result.Result<Uint8Array, Parsed> => {
  if (encoding === undefined || encoding === "identity") return Result.succeed(body)
  if (encoding !== "gzip") return Result.fail(invalid(400, `unsupported Content-Encoding: ${encoding}`))
  return Result.try({
    // The output cap makes a gzip bomb a cheap 413 instead of a memory spike.
    try: () => Zlib.gunzipSync(body, { maxOutputLength: maxBatchBytes + 1 }),
    catch: (cause) =>
      cause instanceof RangeError
        ? invalid(413, `the decompressed body is over ${maxBatchBytes} bytes`)
        : invalid(400, "the body is not valid gzip")
  })
}

/** Checks a body the way the Pipelines API does; the first problem found is the answer. */
const parse = (body: Uint8Array, encoding: string | undefined): Parsed => {
  const decoded = decompress(body, encoding)
  if (Result.isFailure(decoded)) return decoded.failure
  const json = decoded.success
  if (json.byteLength > maxBatchBytes) {
    return invalid(413, `the body is ${json.byteLength} bytes, over the ${maxBatchBytes}-byte limit`)
  }
  const value = Result.try(() => JSON.parse(Buffer.from(json).toString("utf8")) as unknown)
  if (Result.isFailure(value)) return invalid(400, "the body is not valid JSON")
  const batch = isObject(value.success) ? value.success["batch"] : undefined
  if (!Array.isArray(batch)) return invalid(400, "the body has no \"batch\" array")
  const messages: Array<ReceivedMessage> = []
  for (const [index, message] of batch.entries()) {
    if (!isObject(message) || typeof message["type"] !== "string") {
      return invalid(400, `message ${index} is not an object with a string "type"`, batch.length)
    }
    if (message["messageId"] !== undefined && typeof message["messageId"] !== "string") {
      return invalid(400, `message ${index} has a "messageId" that is not a string`, batch.length)
    }
    // The client measures a message by its JSON; re-encoding gives the same size whatever whitespace was sent.
    const size = Buffer.byteLength(JSON.stringify(message), "utf8")
    if (size > maxMessageBytes) {
      return invalid(400, `message ${index} is ${size} bytes, over the ${maxMessageBytes}-byte limit`, batch.length)
    }
    messages.push(message as ReceivedMessage)
  }
  return { _tag: "Batch", messages }
}

const redactHeaders = (headers: Headers.Headers): Record<string, string> => {
  const out: Record<string, string> = { ...headers }
  if (out["authorization"] !== undefined) out["authorization"] = "<redacted>"
  return out
}

const parseRetryCount = (header: string | undefined): number | undefined => {
  const n = header === undefined ? Number.NaN : Number(header)
  return Number.isInteger(n) ? n : undefined
}

const jsonResponse = (status: number, body: unknown, headers?: Record<string, string>) =>
  HttpServerResponse.jsonUnsafe(body, headers === undefined ? { status } : { status, headers })

/** Mutable records: every change happens in one synchronous step, so concurrent requests never interleave. */
class Records {
  messages: Array<ReceivedMessage> = []
  requests: Array<RequestRecord> = []
  seen = new Set<string>()
  // Maps, not objects: a message "type" comes from the client and may be "__proto__".
  byType = new Map<string, number>()
  answers = new Map<string, number>()
  duplicates = 0
  bytes = 0
  retries = 0

  stats(): Stats {
    return {
      requests: this.requests.length,
      messages: this.messages.length,
      byType: Object.fromEntries(this.byType),
      duplicates: this.duplicates,
      bytes: this.bytes,
      retries: this.retries,
      answers: Object.fromEntries(this.answers)
    }
  }

  snapshot(): Snapshot {
    return { messages: this.messages.slice(), requests: this.requests.slice(), stats: this.stats() }
  }

  /** Adds the messages not seen before; returns how many were new. */
  accept(messages: ReadonlyArray<ReceivedMessage>): number {
    let accepted = 0
    for (const message of messages) {
      const id = message.messageId
      if (id !== undefined && this.seen.has(id)) {
        this.duplicates++
        continue
      }
      if (id !== undefined) this.seen.add(id)
      this.messages.push(message)
      this.byType.set(message.type, (this.byType.get(message.type) ?? 0) + 1)
      accepted++
    }
    return accepted
  }

  record(request: RequestRecord): void {
    this.requests.push(request)
    this.bytes += request.bytes
    if (request.retryCount !== undefined && request.retryCount > 0) this.retries++
    const key = request.status === undefined ? request.fault ?? "none" : String(request.status)
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1)
  }
}

/**
 * Starts a collector in the current scope. Closing the scope closes every connection (ending hung requests) and
 * frees the port.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options) {
  const writeKey = Redacted.isRedacted(options.writeKey) ? options.writeKey : Redacted.make(options.writeKey)
  const expectedAuthorization = `Basic ${Buffer.from(`${Redacted.value(writeKey)}:`).toString("base64")}`
  const path = options.path ?? "/v1/batch"
  const ambientRandom = yield* Random.Random
  const changes = yield* SubscriptionRef.make(0)
  const notify = SubscriptionRef.update(changes, (n) => n + 1)
  let records = new Records()
  let scripted: Array<Answer> = []
  let failure: Failure | undefined

  const nextFault = Effect.gen(function*() {
    const answer = scripted.shift()
    if (answer !== undefined) return answer
    if (failure === undefined || failure.rate <= 0) return undefined
    const draw = yield* Random.next.pipe(Effect.provideService(Random.Random, failure.random))
    return draw < failure.rate
      ? { _tag: "FailureRate" as const, status: failure.status, retryAfter: failure.retryAfter }
      : undefined
  })

  /** The answer of the real API: auth first, then the body, the first problem found wins. */
  const judge = (
    body: Result.Result<Uint8Array, HttpServerError.HttpServerError>,
    authorization: string | undefined,
    encoding: string | undefined
  ): Verdict => {
    if (Result.isFailure(body)) {
      const reason = body.failure.reason
      return reason._tag === "RequestParseError" && reason.reason === "BodyTooLarge"
        ? { status: 413, error: `the body is over ${maxWireBytes} bytes`, messages: 0, batch: undefined }
        : { status: 400, error: "the body could not be read", messages: 0, batch: undefined }
    }
    const parsed = parse(body.success, encoding)
    const messages = parsed._tag === "Batch" ? parsed.messages.length : parsed.messages
    if (authorization !== expectedAuthorization) {
      // Never echo what was sent or expected: either may be a real key.
      const error = authorization === undefined
        ? "missing Authorization header: send Basic auth with the write key as the user name"
        : "the write key is wrong"
      return { status: 401, error, messages, batch: undefined }
    }
    return parsed._tag === "Batch"
      ? { status: 200, error: undefined, messages, batch: parsed.messages }
      : { status: parsed.status, error: parsed.error, messages, batch: undefined }
  }

  const handle = Effect.fnUntraced(function*(request: HttpServerRequest.HttpServerRequest) {
    const at = yield* Clock.currentTimeMillis
    const fault = yield* nextFault
    const headers = request.headers
    const encoding = headers["content-encoding"]?.toLowerCase()
    const base = {
      at,
      gzip: encoding === "gzip",
      retryCount: parseRetryCount(headers["x-retry-count"]),
      headers: redactHeaders(headers)
    }
    const body = yield* request.arrayBuffer.pipe(
      Effect.provideService(HttpIncomingMessage.MaxBodySize, ByteSize.bytes(maxWireBytes)),
      Effect.map((buffer) => new Uint8Array(buffer)),
      Effect.result
    )
    const bytes = Result.isSuccess(body) ? body.success.byteLength : 0
    const save = (
      entry: Pick<RequestRecord, "messages" | "accepted" | "duplicates" | "status" | "fault" | "error">
    ) =>
      Effect.andThen(
        Effect.sync(() => records.record({ ...base, bytes, ...entry })),
        notify
      )
    const countOnly = () => {
      if (Result.isFailure(body)) return 0
      const parsed = parse(body.success, encoding)
      return parsed._tag === "Batch" ? parsed.messages.length : parsed.messages
    }

    if (fault !== undefined && fault._tag !== "Latency" && fault._tag !== "Normal") {
      const messages = countOnly()
      const none = { messages, accepted: 0, duplicates: 0, error: undefined }
      switch (fault._tag) {
        case "Hang": {
          yield* save({ ...none, status: undefined, fault: "hang" })
          return yield* Effect.never
        }
        case "Drop": {
          yield* save({ ...none, status: undefined, fault: "drop" })
          const response = NodeHttpServerRequest.toServerResponse(request)
          // Destroying the response destroys its socket and marks it destroyed at once, so the server writes nothing.
          if (response instanceof Http.ServerResponse) response.destroy()
          else NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
          return HttpServerResponse.empty({ status: 500 })
        }
        case "Status":
        case "FailureRate": {
          yield* save({ ...none, status: fault.status, fault: fault._tag === "Status" ? "status" : "failureRate" })
          const retryAfter = fault.retryAfter === undefined ? undefined : { "retry-after": String(fault.retryAfter) }
          if (fault._tag === "Status" && fault.body !== undefined) {
            return HttpServerResponse.text(fault.body, {
              status: fault.status,
              ...(retryAfter === undefined ? {} : { headers: retryAfter })
            })
          }
          return jsonResponse(
            fault.status,
            { success: false, error: `fault injected by the collector: ${fault.status}` },
            retryAfter
          )
        }
      }
    }

    const latency = fault?._tag === "Latency" ? fault.delay : undefined
    const verdict = judge(body, headers["authorization"], encoding)
    yield* Effect.andThen(
      Effect.sync(() => {
        const before = records.duplicates
        const accepted = verdict.batch === undefined ? 0 : records.accept(verdict.batch)
        records.record({
          ...base,
          bytes,
          messages: verdict.messages,
          accepted,
          duplicates: records.duplicates - before,
          status: verdict.status,
          fault: latency === undefined ? undefined : "latency",
          error: verdict.error
        })
      }),
      notify
    )
    // Recorded before the wait: the work is done, only the answer is late, as when a real server is slow.
    if (latency !== undefined) yield* Effect.sleep(latency)
    return verdict.batch === undefined
      ? jsonResponse(verdict.status, { success: false, error: verdict.error })
      : jsonResponse(200, { success: true })
  })

  const server = Http.createServer()
  const context = yield* Layer.build(
    HttpRouter.serve(HttpRouter.add("POST", path, handle), { disableLogger: true, disableListenLog: true }).pipe(
      Layer.provideMerge(NodeHttpServer.layer(() => server, { host, port: options.port ?? 0 }))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  const port = address._tag === "UnixPathAddress" ? 0 : address.port
  const url = `http://${host}:${port}`

  // down/up change the listener; one at a time, and never after close.
  const switching = yield* Semaphore.make(1)
  let closed = false

  const stop = Effect.callback<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    // close() stops accepting at once (new connections are refused); its callback waits for open connections, so
    // they are destroyed too, which also ends hung requests. Waiting for it lets `up` listen again cleanly.
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

  const down = switching.withPermits(1)(stop)

  const up = switching.withPermits(1)(Effect.callback<void, HttpServerError.ServeError>((resume) => {
    if (closed || server.listening) return resume(Effect.void)
    const onError = (cause: Error) => resume(Effect.fail(new HttpServerError.ServeError({ cause })))
    server.once("error", onError)
    server.listen({ host, port }, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  }))

  // Added after the server's own finalizers, so it runs first: no request can keep the server's close waiting.
  yield* Effect.addFinalizer(() =>
    switching.withPermits(1)(Effect.suspend(() => {
      closed = true
      return stop
    }))
  )

  const view = (): Snapshot => ({ messages: records.messages, requests: records.requests, stats: records.stats() })

  const waitFor = (condition: number | ((snapshot: Snapshot) => boolean)): Effect.Effect<Snapshot> => {
    const holds = typeof condition === "number"
      ? (snapshot: Snapshot) => snapshot.messages.length >= condition
      : condition
    // The predicate sees the live arrays (no copy per change); the caller gets a copy.
    return SubscriptionRef.changes(changes).pipe(
      Stream.filter(() => holds(view())),
      Stream.runHead,
      Effect.map(() => records.snapshot())
    )
  }

  return Collector.of({
    url,
    port,
    path,
    messages: Effect.sync(() => records.messages.slice()),
    requests: Effect.sync(() => records.requests.slice()),
    stats: Effect.sync(() => records.stats()),
    snapshot: Effect.sync(() => records.snapshot()),
    script: (answers) =>
      Effect.sync(() => {
        scripted.push(...answers)
      }),
    failureRate: Effect.fnUntraced(function*(settings: FailureRate) {
      if (!(settings.rate >= 0 && settings.rate <= 1)) {
        return yield* Effect.die(new RangeError(`failureRate: rate must be between 0 and 1, got ${settings.rate}`))
      }
      // A seed gets its own generator, kept across requests, so the sequence of draws is the same on every run.
      const random = settings.seed === undefined
        ? ambientRandom
        : yield* Random.Random.pipe(Random.withSeed(settings.seed))
      failure = { rate: settings.rate, status: settings.status ?? 500, retryAfter: settings.retryAfter, random }
    }),
    down,
    up,
    isUp: Effect.sync(() => server.listening),
    reset: Effect.andThen(
      Effect.sync(() => {
        records = new Records()
        scripted = []
        failure = undefined
      }),
      notify
    ),
    waitFor
  })
})

/**
 * The collector as a layer; it stops when the layer's scope closes.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Collector, HttpServerError.ServeError> =>
  Layer.effect(Collector, make(options))

/**
 * What {@link start} returns: the collector for Promise code. Reads and settings are synchronous.
 *
 * @category models
 * @since 0.1.0
 */
export interface Handle {
  readonly url: string
  readonly port: number
  readonly messages: () => ReadonlyArray<ReceivedMessage>
  readonly requests: () => ReadonlyArray<RequestRecord>
  readonly stats: () => Stats
  readonly script: (answers: Iterable<Answer>) => void
  readonly failureRate: (options: FailureRate) => void
  readonly reset: () => void
  readonly down: () => Promise<void>
  readonly up: () => Promise<void>
  /** Rejects after `timeout` milliseconds when given. */
  readonly waitFor: (
    condition: number | ((snapshot: Snapshot) => boolean),
    options?: { readonly timeout?: number | undefined }
  ) => Promise<Snapshot>
  /** Closes every connection and frees the port. */
  readonly close: () => Promise<void>
  /** The Effect service, for mixing both styles. */
  readonly service: Service
}

/**
 * Starts a collector on its own runtime, for tests that do not use Effect.
 *
 * ```ts
 * const collector = await Collector.start({ writeKey: "wk" })
 * const analytics = new Analytics({ writeKey: "wk", host: collector.url })
 * // …
 * await collector.waitFor(1, { timeout: 5000 })
 * await collector.close()
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const start = async (options: Options): Promise<Handle> => {
  const runtime = ManagedRuntime.make(layer(options))
  const service = await runtime.runPromise(Collector).catch(async (error: unknown) => {
    await runtime.dispose()
    throw error
  })
  return {
    url: service.url,
    port: service.port,
    service,
    messages: () => runtime.runSync(service.messages),
    requests: () => runtime.runSync(service.requests),
    stats: () => runtime.runSync(service.stats),
    script: (answers) => runtime.runSync(service.script(answers)),
    failureRate: (settings) => runtime.runSync(service.failureRate(settings)),
    reset: () => runtime.runSync(service.reset),
    down: () => runtime.runPromise(service.down),
    up: () => runtime.runPromise(service.up),
    waitFor: (condition, waitOptions) =>
      runtime.runPromise(
        waitOptions?.timeout === undefined
          ? service.waitFor(condition)
          : service.waitFor(condition).pipe(Effect.timeout(waitOptions.timeout))
      ),
    close: () => runtime.dispose()
  }
}
