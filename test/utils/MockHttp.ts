/**
 * A scripted `HttpClient` for deterministic tests: it records every request (headers and decoded body) and answers
 * with whatever the test's handler returns. Handlers may wait on `Deferred`s or `Effect.never` to hold a request in
 * flight, or answer `{ error }` to simulate a network failure.
 */
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import { gunzipSync } from "node:zlib"

export interface RecordedRequest {
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: { readonly batch: ReadonlyArray<any>; readonly sentAt: string }
  /** Raw bytes on the wire (compressed when gzip is on). */
  readonly bytes: number
}

export type Answer =
  | {
    readonly status: number
    readonly headers?: Record<string, string>
    readonly body?: string | ReadableStream<Uint8Array>
  }
  | { readonly error: string }

export type Handler = (request: RecordedRequest, index: number) => Effect.Effect<Answer>

export const ok: Handler = () => Effect.succeed({ status: 200, body: "{}" })

/** Answers with each status in turn, then 200 for every later request. */
export const statuses = (...list: Array<number | Answer>): Handler => (_, index) => {
  const next = list[index]
  if (next === undefined) return Effect.succeed({ status: 200 })
  return Effect.succeed(typeof next === "number" ? { status: next } : next)
}

const decode = (request: HttpClientRequest.HttpClientRequest): { body: RecordedRequest["body"]; bytes: number } => {
  if (request.body._tag !== "Uint8Array") throw new Error(`unexpected body ${request.body._tag}`)
  const raw = request.body.body
  const text = request.headers["content-encoding"] === "gzip"
    ? gunzipSync(raw).toString("utf8")
    : new TextDecoder().decode(raw)
  return { body: JSON.parse(text), bytes: raw.byteLength }
}

/**
 * `next` waits for the next request (in order), so tests wait on what happened instead of on time.
 */
export const make = Effect.fnUntraced(function*(handler: Handler = ok) {
  const requests: Array<RecordedRequest> = []
  const arrivals = yield* Queue.unbounded<RecordedRequest>()
  const client = HttpClient.make((request) =>
    Effect.suspend(() => {
      const { body, bytes } = decode(request)
      const recorded: RecordedRequest = { url: request.url, headers: { ...request.headers }, body, bytes }
      const index = requests.length
      requests.push(recorded)
      Queue.offerUnsafe(arrivals, recorded)
      return Effect.flatMap(handler(recorded, index), (answer) =>
        "error" in answer
          ? Effect.fail(
            new HttpClientError.HttpClientError({
              reason: new HttpClientError.TransportError({ request, description: answer.error })
            })
          )
          : Effect.succeed(
            HttpClientResponse.fromWeb(
              request,
              new Response(answer.body ?? "", { status: answer.status, headers: answer.headers ?? {} })
            )
          ))
    })
  )
  return { requests, next: Queue.take(arrivals), client, layer: Layer.succeed(HttpClient.HttpClient, client) }
})

/** Every message of every request, in request order. */
export const messages = (requests: ReadonlyArray<RecordedRequest>): Array<any> => requests.flatMap((r) => r.body.batch)
