/**
 * How much memory does a client hold while the API is down? 100 000 calls against a dead collector (a closed port on
 * 127.0.0.1: every connection is refused), then a close that gives up after 1 s. Prints peak RSS and heap for each
 * configuration, each measured in a fresh process. A benchmark to read, not a timed test.
 *
 *   node test/bench/dead-collector.ts                        every configuration, one child process each
 *   node test/bench/dead-collector.ts facade 100000 [calls]  one configuration (api, maxQueueSize), in this process
 *
 * `facade` passes a callback to every call (each refusal is then reported, and its report held until the calling
 * code yields); `facade-quiet` passes none and listens to nothing; `effect` is the Effect API over undici.
 *
 * Node 22 is needed (`npm exec -- node test/bench/dead-collector.ts` picks the project's).
 */
import { NodeHttpClient } from "@effect/platform-node"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { execFileSync } from "node:child_process"
import * as Net from "node:net"
import { fileURLToPath } from "node:url"
import * as AnalyticsClient from "../../src/AnalyticsClient.ts"
import * as AnalyticsMetrics from "../../src/AnalyticsMetrics.ts"
import { Analytics } from "../../src/index.ts"

/** `facade-quiet`: no callback and no listener, as fire-and-forget code calls it; counted from the Metrics. */
type Api = "facade" | "facade-quiet" | "effect"

interface Result {
  readonly api: Api
  readonly maxQueueSize: number
  readonly calls: number
  readonly accepted: number
  readonly refused: number
  readonly failedAtClose: number
  readonly callsMillis: number
  readonly closeMillis: number
  readonly baselineRssMB: number
  readonly peakRssMB: number
  readonly baselineHeapMB: number
  readonly peakHeapMB: number
  readonly heapAfterCallsMB: number
}

const MB = 1024 * 1024

/** A port on 127.0.0.1 that nothing listens on: bound once to get a free number, then closed. */
const deadPort = () =>
  new Promise<number>((resolve) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as Net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const event = (i: number) => ({
  userId: `user-${i % 5_000}`,
  event: "Order Completed",
  properties: {
    orderId: `order-${i}`,
    revenue: 39.95,
    currency: "EUR",
    products: [{ sku: "sku-1", name: "Shoes", price: 29.95, quantity: 1 }, { sku: "sku-2", name: "Socks", price: 10 }]
  },
  context: { ip: "203.0.113.7", locale: "en-GB" }
})

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {})

let peakHeap = 0
const sample = () => {
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed)
}

const options = (port: number, maxQueueSize: number) => ({
  writeKey: "bench-write-key",
  host: `http://127.0.0.1:${port}`,
  maxQueueSize,
  closeTimeout: 1_000
})

/** The process-wide counters every client updates. */
const count = (metric: typeof AnalyticsMetrics.dropped) => Effect.runSync(Metric.value(metric)).count

const runFacade = (quiet: boolean) => async (port: number, maxQueueSize: number, calls: number) => {
  const analytics = new Analytics(options(port, maxQueueSize))
  let refused = 0
  let failed = 0
  const callback = (err: { reason: { _tag: string } } | undefined) => {
    if (err?.reason._tag === "QueueFull") refused++
    else if (err !== undefined) failed++
  }
  const started = performance.now()
  for (let i = 0; i < calls; i++) {
    analytics.track(event(i), quiet ? undefined : callback)
    if (i % 1_000 === 0) sample()
  }
  if (quiet) refused = count(AnalyticsMetrics.dropped)
  const callsMillis = performance.now() - started
  await new Promise((resolve) => setImmediate(resolve)) // QueueFull callbacks run right after the calls
  sample()
  gc()
  const heapAfterCalls = process.memoryUsage().heapUsed
  const closing = performance.now()
  const sampler = setInterval(sample, 10)
  await analytics.closeAndFlush()
  clearInterval(sampler)
  if (quiet) failed = count(AnalyticsMetrics.failed)
  return { accepted: calls - refused, refused, failedAtClose: failed, callsMillis, heapAfterCalls, closing }
}

const runEffect = (port: number, maxQueueSize: number, calls: number) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      AnalyticsClient.layer(options(port, maxQueueSize)).pipe(Layer.provide(NodeHttpClient.layerUndici)),
      scope
    )
    const client = Context.get(context, AnalyticsClient.AnalyticsClient)
    const failures = yield* client.failures.pipe(
      Stream.runFold(() => 0, (n, failure) => n + failure.messages.length),
      Effect.forkChild({ startImmediately: true })
    )
    let refused = 0
    const started = performance.now()
    for (let i = 0; i < calls; i++) {
      const result = yield* Effect.result(client.track(event(i)))
      if (result._tag === "Failure") refused++
      if (i % 1_000 === 0) sample()
    }
    const callsMillis = performance.now() - started
    sample()
    gc()
    const heapAfterCalls = process.memoryUsage().heapUsed
    const closing = performance.now()
    const sampler = setInterval(sample, 10)
    yield* Scope.close(scope, Exit.void)
    clearInterval(sampler)
    const failedAtClose = yield* Fiber.join(failures)
    return { accepted: calls - refused, refused, failedAtClose, callsMillis, heapAfterCalls, closing }
  })))

const measure = async (api: Api, maxQueueSize: number, calls: number): Promise<Result> => {
  const port = await deadPort()
  gc()
  const baseline = process.memoryUsage()
  peakHeap = baseline.heapUsed
  const run = await (api === "effect" ? runEffect : runFacade(api === "facade-quiet"))(port, maxQueueSize, calls)
  return {
    api,
    maxQueueSize,
    calls,
    accepted: run.accepted,
    refused: run.refused,
    failedAtClose: run.failedAtClose,
    callsMillis: Math.round(run.callsMillis),
    closeMillis: Math.round(performance.now() - run.closing),
    baselineRssMB: baseline.rss / MB,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    baselineHeapMB: baseline.heapUsed / MB,
    peakHeapMB: peakHeap / MB,
    heapAfterCallsMB: run.heapAfterCalls / MB
  }
}

const [api, maxQueueSize, calls = "100000"] = process.argv.slice(2)

if (api === "facade" || api === "facade-quiet" || api === "effect") {
  // One configuration: the parent reads the last line.
  const result = await measure(api, Number(maxQueueSize ?? 100_000), Number(calls))
  process.stdout.write(`${JSON.stringify(result)}\n`)
  process.exit(0)
} else {
  const configurations: ReadonlyArray<readonly [Api, number]> = [
    ["facade", 100_000],
    ["facade", 10_000],
    ["facade", 1_000],
    ["facade-quiet", 100_000],
    ["facade-quiet", 1_000],
    ["effect", 100_000],
    ["effect", 10_000],
    ["effect", 1_000]
  ]
  const self = fileURLToPath(import.meta.url)
  const rows: Array<Result> = []
  for (const [which, size] of configurations) {
    const output = execFileSync(process.execPath, ["--expose-gc", self, which, String(size), calls], {
      encoding: "utf8"
    })
    rows.push(JSON.parse(output.trim().split("\n").at(-1)!))
  }
  const mb = (n: number) => n.toFixed(1)
  console.log(
    `${calls} calls against a dead collector (connection refused), Node ${process.version}, close gives up after 1 s`
  )
  console.table(rows.map((r) => ({
    api: r.api,
    maxQueueSize: r.maxQueueSize,
    accepted: r.accepted,
    "refused (QueueFull)": r.refused,
    "failed at close": r.failedAtClose,
    "calls ms": r.callsMillis,
    "close ms": r.closeMillis,
    "RSS before MB": mb(r.baselineRssMB),
    "peak RSS MB": mb(r.peakRssMB),
    "heap before MB": mb(r.baselineHeapMB),
    "peak heap MB": mb(r.peakHeapMB),
    "heap after calls MB": mb(r.heapAfterCallsMB)
  })))
}
