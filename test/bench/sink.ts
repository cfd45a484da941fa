/**
 * The benchmark's loopback sink: a lean `node:http` server on 127.0.0.1 (ephemeral port) run in its own process by
 * `run.ts`, so its work never counts against the client under test.
 *
 * It counts every delivered message per `messageId` (lost and duplicate detection), records the bytes on the wire
 * (request head + body as sent, and the same with the body gzipped, estimated from a sample of whole requests) and
 * the time from call to delivery (each event carries `properties.calledAt`). In a fault run it answers 500 to a
 * seeded share of requests; messages of those requests do not count as delivered.
 *
 * Protocol (IPC): the parent sends `{ cmd: "reset", failRate, seed }`, `{ cmd: "stats" }` or `{ cmd: "exit" }`;
 * the sink answers `{ type: "listening", url }` once, then `{ type: "reset" }` / `{ type: "stats", stats }`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { gunzipSync, gzipSync } from "node:zlib"
import { now } from "./event.ts"

export interface SinkStats {
  readonly requests: number
  readonly failedRequests: number
  /** Messages in accepted (2xx) requests, duplicates included. */
  readonly messages: number
  readonly distinct: number
  readonly duplicates: number
  /** Request line + headers + body, as sent, over all requests (retries and refused ones included). */
  readonly wireBytes: number
  /** Estimated wire bytes had every body been gzipped (from a sample of whole requests). */
  readonly wireBytesGzip: number
  readonly latencyP50: number
  readonly latencyP99: number
  /** Sink-side time of the first and last accepted request (ms). */
  readonly firstAt: number
  readonly lastAt: number
}

/** Messages whose requests are kept whole to estimate the gzip ratio. */
const gzipSampleMessages = 2_000

const idKey = "\"messageId\":\""
const calledAtKey = "\"calledAt\":"

// A seeded PRNG (mulberry32): the same seed refuses the same request numbers in every run.
const mulberry32 = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

let failRate = 0
let random = mulberry32(1)
let seen = new Map<string, number>()
let requests = 0
let failedRequests = 0
let messages = 0
let duplicates = 0
let wireBytes = 0
let latencies: Array<number> = []
let firstAt = 0
let lastAt = 0
let sample: Array<{ head: number; body: Buffer }> = []
let sampledMessages = 0

const reset = (rate: number, seed: number) => {
  failRate = rate
  random = mulberry32(seed)
  seen = new Map()
  requests =
    failedRequests =
    messages =
    duplicates =
    wireBytes =
      0
  latencies = []
  firstAt = lastAt = 0
  sample = []
  sampledMessages = 0
}

const headBytes = (req: IncomingMessage): number => {
  let bytes = req.method!.length + req.url!.length + 12 // "POST /v1/batch HTTP/1.1\r\n"
  const raw = req.rawHeaders
  for (let i = 0; i < raw.length; i += 2) bytes += raw[i]!.length + raw[i + 1]!.length + 4
  return bytes + 2
}

const percentile = (sorted: ArrayLike<number>, p: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!

const stats = (): SinkStats => {
  let sampleGzip = 0
  let samplePlain = 0
  for (const { head, body } of sample) {
    samplePlain += head + body.length
    sampleGzip += head + gzipSync(body).length
  }
  const sorted = Float64Array.from(latencies).toSorted()
  return {
    requests,
    failedRequests,
    messages,
    distinct: seen.size,
    duplicates,
    wireBytes,
    wireBytesGzip: samplePlain === 0 ? 0 : wireBytes * (sampleGzip / samplePlain),
    latencyP50: percentile(sorted, 0.5),
    latencyP99: percentile(sorted, 0.99),
    firstAt,
    lastAt
  }
}

// Scans the body for ids and call times instead of parsing it: the sink must outpace the fastest client.
const accept = (text: string, at: number): number => {
  let count = 0
  let from = 0
  for (;;) {
    const at0 = text.indexOf(idKey, from)
    if (at0 === -1) break
    const start = at0 + idKey.length
    const end = text.indexOf("\"", start)
    const id = text.slice(start, end)
    const n = seen.get(id)
    if (n === undefined) seen.set(id, 1)
    else {
      seen.set(id, n + 1)
      duplicates++
    }
    count++
    from = end
  }
  from = 0
  for (;;) {
    const at0 = text.indexOf(calledAtKey, from)
    if (at0 === -1) break
    const start = at0 + calledAtKey.length
    let end = start
    while (end < text.length) {
      const c = text.charCodeAt(end)
      if (c === 44 || c === 125) break // "," or "}"
      end++
    }
    latencies.push(at - Number(text.slice(start, end)))
    from = end
  }
  return count
}

const ok = Buffer.from("{}")

const server = createServer(
  { keepAliveTimeout: 30_000, requestTimeout: 0 },
  (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const at = now()
      const raw = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
      const head = headBytes(req)
      requests++
      wireBytes += head + raw.length
      const refuse = failRate > 0 && random() < failRate
      if (refuse) {
        failedRequests++
        res.writeHead(500, { "content-type": "application/json", "content-length": ok.length })
        res.end(ok)
        return
      }
      const body = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw
      const count = accept(body.toString("utf8"), at)
      messages += count
      if (sampledMessages < gzipSampleMessages) {
        sample.push({ head, body: Buffer.from(body) })
        sampledMessages += count
      }
      if (firstAt === 0) firstAt = at
      lastAt = at
      res.writeHead(200, { "content-type": "application/json", "content-length": ok.length })
      res.end(ok)
    })
  }
)
server.maxRequestsPerSocket = 0
server.listen({ port: 0, host: "127.0.0.1", backlog: 8_192 }, () => {
  const { port } = server.address() as AddressInfo
  process.send!({ type: "listening", url: `http://127.0.0.1:${port}` })
})

process.on("message", (message: { cmd: string; failRate?: number; seed?: number }) => {
  switch (message.cmd) {
    case "reset": {
      server.closeIdleConnections()
      reset(message.failRate ?? 0, message.seed ?? 1)
      process.send!({ type: "reset" })
      break
    }
    case "stats": {
      process.send!({ type: "stats", stats: stats() })
      break
    }
    case "exit": {
      server.closeAllConnections()
      server.close(() => process.exit(0))
      break
    }
  }
})
process.on("disconnect", () => process.exit(0))
