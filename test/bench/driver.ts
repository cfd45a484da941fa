/**
 * One benchmark run in its own process (started by `run.ts` with `--expose-gc`): builds one client, drives one
 * scenario against the sink, and reports what it measured about itself to the parent over IPC.
 *
 * - `burst`: `n` calls in one synchronous loop (an Effect loop for the Effect API), then close.
 * - `steady`: `rate` calls per second for `seconds`, then close.
 *
 * Measured from the first call to the end of close: wall time, CPU (`process.cpuUsage`, all threads), peak RSS
 * (`resourceUsage().maxRSS`, the whole process lifetime) and, right after a burst, the heap retained per queued
 * event (heap after a forced GC, minus the same before the first call, over the events still queued). The forced GC
 * is taken out of the time and CPU figures.
 */
import type * as HttpClient from "effect/http/HttpClient"
import type * as Layer from "effect/Layer"
import { type BenchEvent, makeEvent, now } from "./event.ts"

// Each library is imported only by the process that drives it, so no other library's modules weigh on its RSS.

export type Library = "facade" | "effect" | "cio" | "segment" | "floor-fetch" | "floor-http"

/** Which `HttpClient` layer this library's own clients use; `default` is the facade's own choice. */
export type Transport = "default" | "undici" | "node-http" | "node-http-keepalive" | "fetch"

export interface DriverConfig {
  readonly library: Library
  readonly transport: Transport
  /** The facade with a file outbox in a temporary directory (its defaults: fsync every 200 ms). */
  readonly outbox?: boolean | undefined
  /** The caller keeps every receipt the facade returns (what a receipt costs, in the heap per queued event). */
  readonly receipts?: boolean | undefined
  /** Events per request; `undefined` keeps the library's default. */
  readonly batchSize: number | undefined
  readonly scenario: "burst" | "steady"
  readonly events: number
  /** Calls per second (steady). */
  readonly rate: number
  readonly url: string
  /** When set, the measured window (first call to end of close) is CPU-profiled into this directory. */
  readonly profileDir?: string | undefined
  /**
   * Events sent and flushed before the measured window (then the parent resets the sink), to measure a warmed-up
   * process instead of a fresh one. Ignored by a library that cannot flush without closing.
   */
  readonly warmEvents?: number | undefined
}

export interface DriverResult {
  readonly elapsedMillis: number
  readonly cpuMillis: number
  readonly peakRssBytes: number
  /** Heap retained per queued event after a burst (`NaN` for steady runs). */
  readonly heapPerQueuedEvent: number
  readonly queuedAtMeasure: number
  /** Calls the client refused or reported as failed. */
  readonly failures: number
  /** Whether `warmEvents` were sent first. */
  readonly warmed: boolean
}

const writeKey = "bench-write-key"
// The built package (run.ts builds it first), as users load it: the Promise API's bundle, and the root.
const bundle = new URL("../../dist/bundle/node.js", import.meta.url).href
const root = new URL("../../dist/index.js", import.meta.url).href
const metrics = new URL("../../dist/AnalyticsMetrics.js", import.meta.url).href
const closeTimeoutMillis = 600_000

// The facade's default transport, so the Effect API is measured on the same one.
const defaultTransport: Exclude<Transport, "default"> = "node-http-keepalive"

const httpClientLayer = async (
  transport: Exclude<Transport, "default">
): Promise<Layer.Layer<HttpClient.HttpClient>> => {
  if (transport === "fetch") return (await import("effect/http/FetchHttpClient")).layer
  const NodeHttpClient = await import("@effect/platform-node/NodeHttpClient")
  switch (transport) {
    case "undici":
      return NodeHttpClient.layerUndici
    case "node-http":
      return NodeHttpClient.layerNodeHttp
    case "node-http-keepalive":
      // One socket per request slot (maxConcurrentRequests, 4 by default).
      return NodeHttpClient.layerNodeHttpOptions({ keepAlive: true, maxSockets: 4 })
  }
}

interface Client {
  readonly track: (event: BenchEvent) => void
  /** Sends what is queued without closing; absent when the library cannot. */
  readonly flush?: (() => Promise<void>) | undefined
  readonly close: () => Promise<void>
  /** Events accepted and not yet settled; `undefined` when the library cannot tell. */
  readonly queued: () => number | undefined
}

/** Accepted and not yet settled, from the engine's metrics. */
const pendingInEngine = async () => {
  const [Effect, Metric, AnalyticsMetrics] = await Promise.all([
    import("effect/Effect"),
    import("effect/Metric"),
    import(metrics) as Promise<typeof import("../../src/AnalyticsMetrics.ts")>
  ])
  const value = (metric: typeof AnalyticsMetrics.enqueued) => Number(Effect.runSync(Metric.value(metric)).count)
  return () => value(AnalyticsMetrics.enqueued) - value(AnalyticsMetrics.delivered) - value(AnalyticsMetrics.failed)
}

const temporaryDirectory = async () => {
  const [fs, os, path] = await Promise.all([import("node:fs"), import("node:os"), import("node:path")])
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-outbox-"))
  return { path: dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) }
}

let failures = 0
let warmed = false

const makeClient = async (config: DriverConfig): Promise<Client> => {
  const batch = config.batchSize === undefined ? {} : { maxEventsInBatch: config.batchSize }
  switch (config.library) {
    case "facade": {
      // As plain Node code imports it: the bundle of `npm run build` (run.ts builds first).
      const { Analytics } = await import(bundle)
      const outbox = config.outbox === true ? await temporaryDirectory() : undefined
      const analytics = new Analytics({
        writeKey,
        host: config.url,
        ...batch,
        ...(config.transport === "default" ? {} : { httpClientLayer: await httpClientLayer(config.transport) }),
        ...(outbox === undefined ? {} : { outbox: { path: outbox.path } })
      })
      analytics.on("error", () => failures++)
      const receipts: Array<unknown> = []
      return {
        track: config.receipts === true
          ? (event) => void receipts.push(analytics.track(event))
          : (event) => analytics.track(event),
        flush: () => analytics.flush(),
        close: () => analytics.closeAndFlush({ timeout: closeTimeoutMillis }).finally(() => outbox?.remove()),
        // The bundle's metrics are its own; a burst loop is synchronous, so everything it made is still queued.
        queued: () => undefined
      }
    }
    case "cio": {
      const { Analytics: CioAnalytics } = await import("@customerio/cdp-analytics-node")
      const analytics = new CioAnalytics({ writeKey, host: config.url, path: "/v1/batch", ...batch })
      analytics.on("error", () => failures++)
      return {
        track: (event) => analytics.track(event),
        close: () => analytics.closeAndFlush({ timeout: closeTimeoutMillis }),
        queued: () => undefined
      }
    }
    case "segment": {
      const { Analytics: SegmentAnalytics } = await import("@segment/analytics-node")
      const analytics = new SegmentAnalytics({ writeKey, host: config.url, path: "/v1/batch", ...batch })
      analytics.on("error", () => failures++)
      return {
        track: (event) => analytics.track(event),
        flush: () => analytics.flush({ timeout: closeTimeoutMillis }),
        close: () => analytics.closeAndFlush({ timeout: closeTimeoutMillis }),
        queued: () => undefined
      }
    }
    case "floor-fetch":
    case "floor-http": {
      const url = `${config.url}/v1/batch`
      const size = config.batchSize ?? 100
      const Floors = await import("./floors.ts")
      return config.library === "floor-fetch" ? Floors.makeFetch(url, size) : Floors.makeNodeHttp(url, size)
    }
    case "effect":
      throw new Error("the Effect API is driven by runEffect")
  }
}

const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error("run the driver with --expose-gc")

/** Time and CPU of the measurement itself, taken out of the results. */
class Meter {
  readonly startedAt = now()
  readonly cpuAtStart = process.cpuUsage()
  readonly heapAtStart: number
  excludedMillis = 0
  excludedCpuMillis = 0
  heapPerQueuedEvent = NaN
  queuedAtMeasure = 0

  constructor(heapAtStart: number) {
    this.heapAtStart = heapAtStart
  }

  static start(): Meter {
    gc!()
    gc!()
    return new Meter(process.memoryUsage().heapUsed)
  }

  measureHeap(queued: number) {
    const t0 = now()
    const cpu0 = process.cpuUsage()
    gc!()
    gc!()
    const heap = process.memoryUsage().heapUsed
    this.queuedAtMeasure = queued
    this.heapPerQueuedEvent = queued > 0 ? (heap - this.heapAtStart) / queued : NaN
    const cpu = process.cpuUsage(cpu0)
    this.excludedCpuMillis += (cpu.user + cpu.system) / 1000
    this.excludedMillis += now() - t0
  }

  finish(): DriverResult {
    const cpu = process.cpuUsage(this.cpuAtStart)
    return {
      elapsedMillis: now() - this.startedAt - this.excludedMillis,
      cpuMillis: (cpu.user + cpu.system) / 1000 - this.excludedCpuMillis,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      heapPerQueuedEvent: this.heapPerQueuedEvent,
      queuedAtMeasure: this.queuedAtMeasure,
      failures,
      warmed
    }
  }
}

/** Profiles exactly the measured window, so module loading and set-up do not blur the picture. */
const startProfiler = async (config: DriverConfig): Promise<() => Promise<void>> => {
  if (config.profileDir === undefined) return async () => {}
  const [{ Session }, { writeFileSync }] = await Promise.all([import("node:inspector/promises"), import("node:fs")])
  const session = new Session()
  session.connect()
  await session.post("Profiler.enable")
  await session.post("Profiler.setSamplingInterval", { interval: 200 })
  await session.post("Profiler.start")
  return async () => {
    const { profile } = await session.post("Profiler.stop")
    const name = `${config.library}${config.outbox === true ? "+outbox" : ""}-${config.transport}-${
      config.batchSize ?? "default"
    }-${config.scenario}-${process.pid}`
    writeFileSync(`${config.profileDir}/${name}.cpuprofile`, JSON.stringify(profile))
    session.disconnect()
  }
}

/** Tells the parent the warm-up is delivered and waits until it has reset the sink. */
const warmedUp = () =>
  new Promise<void>((resolve) => {
    process.once("message", () => resolve())
    process.send!({ type: "warmed" })
  })

/** Warm-up events get indexes of their own, so none can be mistaken for a measured one. */
const warmUpIndex = 1_000_000_000

const tickMillis = 5

// An application builds its client at startup, well before its first call: let background set-up finish first.
const settle = () => new Promise((resolve) => setTimeout(resolve, 200))

const runPromiseApi = async (config: DriverConfig): Promise<DriverResult> => {
  const client = await makeClient(config)
  await settle()
  if (warm && client.flush !== undefined) {
    for (let i = 0; i < config.warmEvents!; i++) client.track(makeEvent(warmUpIndex + i))
    await client.flush()
    await warmedUp()
    warmed = true
  }
  const stopProfiler = await startProfiler(config)
  const meter = Meter.start()
  if (config.scenario === "burst") {
    for (let i = 0; i < config.events; i++) client.track(makeEvent(i))
    meter.measureHeap(client.queued() ?? config.events)
  } else {
    let issued = 0
    while (issued < config.events) {
      const due = Math.min(config.events, Math.floor((now() - meter.startedAt) * config.rate / 1000))
      for (; issued < due; issued++) client.track(makeEvent(issued))
      await new Promise((resolve) => setTimeout(resolve, tickMillis))
    }
  }
  await client.close()
  const result = meter.finish()
  await stopProfiler()
  return result
}

const runEffect = async (config: DriverConfig): Promise<DriverResult> => {
  const [Effect, Layer, { AnalyticsClient }] = await Promise.all([
    import("effect/Effect"),
    import("effect/Layer"),
    import(root) as Promise<typeof import("../../src/index.ts")>
  ])
  const queued = await pendingInEngine()
  const transport = config.transport === "default" ? defaultTransport : config.transport
  const layer = AnalyticsClient.layer({
    writeKey,
    host: config.url,
    closeTimeout: closeTimeoutMillis,
    ...(config.batchSize === undefined ? {} : { maxEventsInBatch: config.batchSize })
  }).pipe(Layer.provide(await httpClientLayer(transport)))
  let meter: Meter | undefined
  let stopProfiler = async () => {}
  const program = Effect.gen(function*() {
    const analytics = yield* AnalyticsClient.AnalyticsClient
    yield* Effect.promise(settle)
    if (warm) {
      for (let i = 0; i < config.warmEvents!; i++) yield* Effect.ignore(analytics.track(makeEvent(warmUpIndex + i)))
      yield* analytics.flush
      yield* Effect.promise(warmedUp)
      warmed = true
    }
    stopProfiler = yield* Effect.promise(() => startProfiler(config))
    meter = Meter.start()
    const track = (i: number) =>
      analytics.track(makeEvent(i)).pipe(Effect.catch(() => Effect.sync(() => void failures++)))
    if (config.scenario === "burst") {
      for (let i = 0; i < config.events; i++) yield* track(i)
      meter.measureHeap(queued())
    } else {
      let issued = 0
      while (issued < config.events) {
        const due = Math.min(config.events, Math.floor((now() - meter.startedAt) * config.rate / 1000))
        for (; issued < due; issued++) yield* track(issued)
        yield* Effect.sleep(tickMillis)
      }
    }
  }).pipe(Effect.provide(layer)) // closing the layer's scope sends what is queued
  await Effect.runPromise(program)
  const result = meter!.finish()
  await stopProfiler()
  return result
}

const config: DriverConfig = JSON.parse(process.env["BENCH_DRIVER"] ?? "null")
const warm = (config.warmEvents ?? 0) > 0
const result = await (config.library === "effect" ? runEffect(config) : runPromiseApi(config))
process.send!({ type: "result", result }, () => process.exit(0))
