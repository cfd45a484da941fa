/**
 * The two floors: the least work a client can do for the same result. Messages are plain objects, a batch is one
 * `JSON.stringify`, at most 4 requests are in flight, a refused batch is re-sent as is. No validation, no size
 * limits, no events: what is left is the cost of the transport, which is what the floors are there to show.
 *
 * - `fetch`: Node's global `fetch` (undici inside Node).
 * - `node:http`: `http.request` through a keep-alive `Agent` with 4 sockets.
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import type { BenchEvent } from "./event.ts"

export interface Floor {
  readonly track: (event: BenchEvent) => void
  /** Sends what is queued and resolves once everything is delivered; the floor stays usable. */
  readonly flush: () => Promise<void>
  readonly close: () => Promise<void>
  /** Messages accepted and not yet delivered. */
  readonly queued: () => number
}

type Post = (body: string) => Promise<number>

const maxInFlight = 4
const flushIntervalMillis = 10_000
const library = { name: "bench-floor", version: "0.0.0" }

const make = (batchSize: number, post: Post): Floor => {
  let batch: Array<object> = []
  const ready: Array<Array<object>> = []
  let next = 0
  let inFlight = 0
  let pending = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  let onIdle: (() => void) | undefined

  const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

  const send = async (messages: Array<object>) => {
    const body = JSON.stringify({ batch: messages, sentAt: new Date().toISOString() })
    for (let attempt = 0;; attempt++) {
      try {
        if ((await post(body)) < 300) break
      } catch {
        // a network error: retried like a 5xx
      }
      await sleep(Math.min(100 * 2 ** attempt, 2_000))
    }
    pending -= messages.length
  }

  const pump = () => {
    while (inFlight < maxInFlight && next < ready.length) {
      const messages = ready[next]!
      ready[next++] = []
      inFlight++
      void send(messages).then(() => {
        inFlight--
        pump()
      })
    }
    if (next === ready.length) {
      ready.length = 0
      next = 0
    }
    if (inFlight === 0 && batch.length === 0 && onIdle !== undefined) {
      const idle = onIdle
      onIdle = undefined
      idle()
    }
  }

  const cut = () => {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    if (batch.length === 0) return
    ready.push(batch)
    batch = []
    pump()
  }

  const flush = () =>
    new Promise<void>((resolve) => {
      onIdle = resolve
      cut()
      pump()
    })

  return {
    track: (event) => {
      batch.push({
        type: "track",
        messageId: randomUUID(),
        timestamp: new Date().toISOString(),
        ...event,
        context: { library }
      })
      pending++
      if (batch.length >= batchSize) cut()
      else if (timer === undefined) timer = setTimeout(cut, flushIntervalMillis)
    },
    flush,
    close: flush,
    queued: () => pending
  }
}

const headers = {
  "content-type": "application/json",
  authorization: `Basic ${Buffer.from("bench-key:").toString("base64")}`,
  "user-agent": "bench-floor/0.0.0"
}

export const makeFetch = (url: string, batchSize: number): Floor =>
  make(batchSize, async (body) => {
    const response = await fetch(url, { method: "POST", headers, body })
    await response.arrayBuffer()
    return response.status
  })

export const makeNodeHttp = (url: string, batchSize: number): Floor => {
  const agent = new http.Agent({ keepAlive: true, maxSockets: maxInFlight })
  const floor = make(batchSize, (body) =>
    new Promise<number>((resolve, reject) => {
      const request = http.request(url, {
        method: "POST",
        agent,
        headers: { ...headers, "content-length": Buffer.byteLength(body) }
      }, (response) => {
        response.resume()
        response.on("end", () => resolve(response.statusCode ?? 0))
        response.on("error", reject)
      })
      request.on("error", reject)
      request.end(body)
    }))
  return { ...floor, close: () => floor.close().then(() => agent.destroy()) }
}
