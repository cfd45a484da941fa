/**
 * A local stand-in for the Customer.io Pipelines batch API (`POST /v1/batch`), listening on 127.0.0.1, with a live
 * inspector of what it receives at `/`.
 *
 * It checks what the real API checks (Basic auth with the write key, gzip bodies, the 500 KB request and 32 KB
 * message limits, the JSON shape), records what it accepted (de-duplicated by `messageId`, so a retried batch shows
 * up as duplicates) and every request it saw, and can be told at runtime to misbehave: scripted answers (a status with
 * `Retry-After`, latency, a hang, a dropped connection), a seeded failure rate, and going down and up again on the
 * same port. Use it for the demo, for fault-injection tests, and for your own integration tests.
 *
 * Open `inspectorUrl` in a browser to watch the requests and messages arrive, filter them, see each one's JSON and
 * what the API would say about it, and inject faults. The page is part of the package (no network), refuses requests
 * whose `Host` is not the collector's own (DNS rebinding), and its fault controls need the token in that URL.
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
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerError from "effect/http/HttpServerError"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Random from "effect/Random"
import * as Redacted from "effect/Redacted"
import * as Semaphore from "effect/Semaphore"
import * as Http from "node:http"
import { Faults } from "./internal/collector/faults.ts"
import * as Inspector from "./internal/collector/inspector.ts"
import type {
  Answer,
  FailureRate,
  Options,
  ReceivedMessage,
  RequestRecord,
  Snapshot,
  Stats
} from "./internal/collector/model.ts"
import { makeEndpoint } from "./internal/collector/pipelines.ts"
import { generateToken, hostCheck, reachableHost } from "./internal/collector/security.ts"
import { defaultInspectorRetain, Signal, Store } from "./internal/collector/store.ts"

export {
  /**
   * Constructors of scripted answers: `status(code, { retryAfter, body })`, `latency(duration)`, `hang`, `drop`,
   * `normal`.
   *
   * @category constructors
   * @since 0.1.0
   */
  Answer
} from "./internal/collector/model.ts"

export type {
  /**
   * @category models
   * @since 0.1.0
   */
  FailureRate,
  /**
   * @category models
   * @since 0.1.0
   */
  Fault,
  /**
   * @category models
   * @since 0.1.0
   */
  Options,
  /**
   * @category models
   * @since 0.1.0
   */
  ReceivedMessage,
  /**
   * @category models
   * @since 0.1.0
   */
  RequestRecord,
  /**
   * @category models
   * @since 0.1.0
   */
  Snapshot,
  /**
   * @category models
   * @since 0.1.0
   */
  Stats
} from "./internal/collector/model.ts"

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
  /**
   * The inspector's address with its token (`http://127.0.0.1:<port>/?token=…`): open it in a browser. Without the
   * token the page is read-only. `undefined` when the inspector is off.
   */
  readonly inspectorUrl: string | undefined
  /** Accepted messages, de-duplicated by `messageId`, in arrival order (the latest `retain`, if set). */
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

const refuseAll = () => false

const redacted = (value: string | Redacted.Redacted<string>) =>
  Redacted.isRedacted(value) ? value : Redacted.make(value)

/**
 * Starts a collector in the current scope. Closing the scope closes every connection (ending hung requests and open
 * inspector pages) and frees the port.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: Options = {}) {
  // A negative or NaN `retain` would keep nothing or turn the limit off: the caller's mistake, told at once.
  if (options.retain !== undefined && !(Number.isInteger(options.retain) && options.retain >= 0)) {
    return yield* Effect.die(
      new RangeError(`Collector option "retain" must be a whole number of at least 0, got ${options.retain}`)
    )
  }
  const writeKey = options.writeKey === undefined ? undefined : redacted(options.writeKey)
  const expectedAuthorization = writeKey === undefined
    ? undefined
    : `Basic ${Buffer.from(`${Redacted.value(writeKey)}:`).toString("base64")}`
  const path = options.path ?? "/v1/batch"
  const host = options.host ?? "127.0.0.1"
  const token = options.token === undefined ? generateToken() : redacted(options.token)
  const faults = new Faults(yield* Random.Random)
  const signal = new Signal()
  const changed = () => signal.bump()
  let store = new Store(options)
  let generation = 0
  const endpoint = makeEndpoint({ store: () => store, faults, expectedAuthorization, changed })

  // The port is known once listening; until then no request can arrive.
  let allowed: (host: string | undefined) => boolean = refuseAll
  let inspector: ReturnType<typeof Inspector.make> | undefined

  const app = Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const hostHeader = request.headers["host"]
    if (!allowed(hostHeader)) {
      store.refuseHost(hostHeader)
      changed()
      return HttpServerResponse.text(
        `The Host header ${
          JSON.stringify(hostHeader ?? "")
        } is not this collector's address, so the request is refused: that is what keeps a web page from reading it through DNS rebinding. Send to the address the collector printed, or allow this name (allowedHosts, or --allow-host).`,
        { status: 403 }
      )
    }
    // A request target may be an absolute URL that does not parse (`GET http://[`): a bad request, not a defect.
    const url = URL.parse(request.url, "http://collector.invalid")
    if (url === null) return HttpServerResponse.empty({ status: 400 })
    if (url.pathname === path && request.method === "POST") return yield* endpoint(request)
    const page = inspector?.(request, url)
    return page === undefined ? HttpServerResponse.empty({ status: 404 }) : yield* page
    // The server runs handlers uninterruptibly unless told otherwise (as HttpRouter does for its routes): a hung
    // request or an open page must end when its client goes away or the collector closes.
  }).pipe(Effect.interruptible)

  const server = Http.createServer()
  const context = yield* Layer.build(
    HttpServer.serve(app).pipe(
      Layer.provideMerge(NodeHttpServer.layer(() => server, { host, port: options.port ?? 0 }))
    )
  )
  const address = Context.get(context, HttpServer.HttpServer).address
  const port = address._tag === "UnixPathAddress" ? 0 : address.port
  const url = `http://${reachableHost(host)}:${port}`
  allowed = hostCheck({ host, port }, options.allowedHosts)
  if (options.inspector !== false) {
    inspector = Inspector.make({
      store: () => store,
      generation: () => generation,
      faults,
      signal,
      token,
      endpoint: `${url}${path}`,
      plan: options.trackingPlan !== undefined,
      retain: Math.min(options.retain ?? Number.POSITIVE_INFINITY, defaultInspectorRetain),
      sameOrigin: (origin) => URL.canParse(origin) && allowed(new URL(origin).host),
      changed
    })
  }
  const inspectorUrl = inspector === undefined
    ? undefined
    : `${url}/?token=${encodeURIComponent(Redacted.value(token))}`

  // down/up change the listener; one at a time, and never after close.
  const switching = yield* Semaphore.make(1)
  let closed = false

  const stop = Effect.callback<void>((resume) => {
    if (!server.listening) return resume(Effect.void)
    // close() stops accepting at once (new connections are refused); its callback waits for open connections, so
    // they are destroyed too, which also ends hung requests and open pages. Waiting for it lets `up` listen again.
    server.close(() => resume(Effect.void))
    server.closeAllConnections()
  })

  const down = switching.withPermits(1)(stop)

  const up = switching.withPermits(1)(Effect.callback<void, HttpServerError.ServeError>((resume) => {
    if (closed || server.listening) return resume(Effect.void)
    // Each outcome removes the other's listener: a failed attempt (the port is taken) leaves nothing behind.
    const onListening = () => {
      server.off("error", onError)
      resume(Effect.void)
    }
    const onError = (cause: Error) => {
      server.off("listening", onListening)
      resume(Effect.fail(new HttpServerError.ServeError({ cause })))
    }
    server.once("error", onError)
    server.once("listening", onListening)
    server.listen({ host, port })
  }))

  // Added after the server's own finalizers, so it runs first: no request can keep the server's close waiting.
  yield* Effect.addFinalizer(() =>
    switching.withPermits(1)(Effect.suspend(() => {
      closed = true
      return stop
    }))
  )

  const waitFor = (condition: number | ((snapshot: Snapshot) => boolean)): Effect.Effect<Snapshot> => {
    // The predicate sees the live arrays (no copy per change); the caller gets a copy.
    const holds = typeof condition === "number"
      ? () => store.acceptedCount >= condition
      : () => condition(store.view())
    return Effect.gen(function*() {
      while (true) {
        const version = signal.version
        if (holds()) return store.snapshot()
        yield* signal.wait(version)
      }
    })
  }

  return Collector.of({
    url,
    port,
    path,
    inspectorUrl,
    messages: Effect.sync(() => store.messages.copy()),
    requests: Effect.sync(() => store.requests.copy()),
    stats: Effect.sync(() => store.stats()),
    snapshot: Effect.sync(() => store.snapshot()),
    script: (answers) =>
      Effect.sync(() => {
        faults.script(answers)
        changed()
      }),
    failureRate: (settings) => Effect.andThen(faults.failureRate(settings), Effect.sync(changed)),
    down,
    up,
    isUp: Effect.sync(() => server.listening),
    reset: Effect.sync(() => {
      store = new Store(options)
      generation++
      faults.clear()
      changed()
    }),
    waitFor
  })
})

/**
 * The collector as a layer; it stops when the layer's scope closes.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Collector, HttpServerError.ServeError> =>
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
  /** The inspector's address with its token; `undefined` when the inspector is off. */
  readonly inspectorUrl: string | undefined
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
export const start = async (options: Options = {}): Promise<Handle> => {
  const runtime = ManagedRuntime.make(layer(options))
  const service = await runtime.runPromise(Collector).catch(async (error: unknown) => {
    await runtime.dispose()
    throw error
  })
  return {
    url: service.url,
    port: service.port,
    inspectorUrl: service.inspectorUrl,
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
