/**
 * A minimal Pipelines endpoint on 127.0.0.1 with an ephemeral port, for tests that need a real socket.
 * It records each request's headers and decoded body and answers with the scripted status.
 */
import * as Effect from "effect/Effect"
import { createServer, type IncomingHttpHeaders } from "node:http"
import type { AddressInfo } from "node:net"
import { gunzipSync } from "node:zlib"

export interface SinkRequest {
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: { readonly batch: ReadonlyArray<any>; readonly sentAt: string }
}

export interface Sink {
  readonly host: string
  readonly requests: Array<SinkRequest>
  /** Every message received, in arrival order. */
  readonly messages: () => Array<any>
  /** Resolves once at least `count` messages have arrived. */
  readonly waitFor: (count: number) => Promise<void>
  readonly close: () => Promise<void>
}

/** The status to answer with; a promise holds the answer back until it settles (a slow server). */
export type Answer = (request: SinkRequest, index: number) => number | Promise<number>

export const start = (answer: Answer = () => 200): Promise<Sink> =>
  new Promise((resolve) => {
    const requests: Array<SinkRequest> = []
    const waiters: Array<{ count: number; resolve: () => void }> = []
    const messages = () => requests.flatMap((r) => r.body.batch)
    const server = createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        const raw = Buffer.concat(chunks)
        const text = req.headers["content-encoding"] === "gzip" ? gunzipSync(raw).toString() : raw.toString()
        const request: SinkRequest = { url: req.url ?? "", headers: req.headers, body: JSON.parse(text) }
        requests.push(request)
        void Promise.resolve(answer(request, requests.length - 1)).then((status) => {
          res.writeHead(status, { "content-type": "application/json" })
          res.end("{}")
          if (status < 300) {
            const received = messages().length
            for (const waiter of waiters.filter((w) => w.count <= received)) {
              waiters.splice(waiters.indexOf(waiter), 1)
              waiter.resolve()
            }
          }
        })
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        host: `http://127.0.0.1:${port}`,
        requests,
        messages,
        waitFor: (count) =>
          messages().length >= count
            ? Promise.resolve()
            : new Promise((done) => waiters.push({ count, resolve: done })),
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/** The same sink as a scoped Effect resource. */
export const make = (answer?: Answer) =>
  Effect.acquireRelease(Effect.promise(() => start(answer)), (sink) => Effect.promise(() => sink.close()))
