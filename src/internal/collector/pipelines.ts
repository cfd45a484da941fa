/**
 * The Pipelines API endpoint (`POST /v1/batch`): it checks a request as the real API does (Basic auth with the write
 * key, gzip, the 500 KB request and 32 KB message limits, the JSON shape), answers as it does, or as the fault drawn
 * for the request says, and records the request and its messages in the store.
 */
import * as ByteSize from "effect/ByteSize"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as Headers from "effect/http/Headers"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import type * as HttpServerError from "effect/http/HttpServerError"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Result from "effect/Result"
import * as Zlib from "node:zlib"
import * as Message from "../../Message.ts"
import { drop, type Faults, statusResponse } from "./faults.ts"
import type { Item, Store } from "./store.ts"

/** The request limit of the Pipelines API (the client's own), measured on the decompressed JSON body. */
const maxBatchBytes = Message.MAX_BATCH_BYTES

/** The limit for one message (the client's own), measured on its JSON in UTF-8 bytes. */
const maxMessageBytes = Message.MAX_MESSAGE_BYTES

/**
 * How much raw body is read at all. Far above `maxBatchBytes`, so an oversized request is read to the end and gets a
 * clean 413 instead of a reset connection, while a runaway client cannot exhaust memory.
 */
const maxWireBytes = 16 * 1024 * 1024

/** Headers that carry credentials: never recorded, never shown. */
const secretHeaders: ReadonlySet<string> = new Set([
  "authorization",
  "proxy-authorization",
  "cookie",
  "x-collector-token"
])

/** What a body holds: its messages when it is a batch, and the first problem found, which is the answer. */
interface Parsed {
  readonly items: ReadonlyArray<Item>
  readonly problem: { readonly status: 400 | 413; readonly error: string } | undefined
}

const refused = (status: 400 | 413, error: string, items: ReadonlyArray<Item> = []): Parsed => ({
  items,
  problem: { status, error }
})

const isObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const decompress = (body: Uint8Array, encoding: string | undefined): Result.Result<Uint8Array, Parsed> => {
  if (encoding === undefined || encoding === "identity") return Result.succeed(body)
  if (encoding !== "gzip") return Result.fail(refused(400, `unsupported Content-Encoding: ${encoding}`))
  return Result.try({
    // The output cap makes a gzip bomb a cheap 413 instead of a memory spike.
    try: () => Zlib.gunzipSync(body, { maxOutputLength: maxBatchBytes + 1 }),
    catch: (cause) =>
      cause instanceof RangeError
        ? refused(413, `the decompressed body is over ${maxBatchBytes} bytes`)
        : refused(400, "the body is not valid gzip")
  })
}

/** Reads a body the way the Pipelines API does; every message of a batch is kept, for the inspector. */
export const parse = (body: Uint8Array, encoding: string | undefined): Parsed => {
  const decoded = decompress(body, encoding)
  if (Result.isFailure(decoded)) return decoded.failure
  const json = decoded.success
  if (json.byteLength > maxBatchBytes) {
    return refused(413, `the body is ${json.byteLength} bytes, over the ${maxBatchBytes}-byte limit`)
  }
  const value = Result.try(() => JSON.parse(Buffer.from(json).toString("utf8")) as unknown)
  if (Result.isFailure(value)) return refused(400, "the body is not valid JSON")
  const batch = isObject(value.success) ? value.success["batch"] : undefined
  if (!Array.isArray(batch)) return refused(400, "the body has no \"batch\" array")
  const items: Array<Item> = []
  let problem: Parsed["problem"]
  for (const [index, message] of batch.entries()) {
    // The client measures a message by its JSON; re-encoding gives the same size whatever whitespace was sent.
    const text = JSON.stringify(message) ?? "null"
    const size = Buffer.byteLength(text, "utf8")
    items.push({ value: message, json: text, bytes: size })
    if (problem !== undefined) continue
    if (!isObject(message) || typeof message["type"] !== "string") {
      problem = { status: 400, error: `message ${index} is not an object with a string "type"` }
    } else if (message["messageId"] !== undefined && typeof message["messageId"] !== "string") {
      problem = { status: 400, error: `message ${index} has a "messageId" that is not a string` }
    } else if (size > maxMessageBytes) {
      problem = { status: 400, error: `message ${index} is ${size} bytes, over the ${maxMessageBytes}-byte limit` }
    }
  }
  return { items, problem }
}

export const redactHeaders = (headers: Headers.Headers): Record<string, string> => {
  const out: Record<string, string> = { ...headers }
  for (const name of Object.keys(out)) {
    if (secretHeaders.has(name)) out[name] = "<redacted>"
  }
  return out
}

const parseRetryCount = (header: string | undefined): number | undefined => {
  const n = header === undefined ? Number.NaN : Number(header)
  return Number.isInteger(n) ? n : undefined
}

const jsonResponse = (status: number, body: unknown) => HttpServerResponse.jsonUnsafe(body, { status })

/** Whether `authorization` is Basic auth with a non-empty user name (the write key) and an empty password. */
const isBasicWithKey = (authorization: string): boolean => {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(authorization)
  if (match === null) return false
  const decoded = Buffer.from(match[1]!, "base64").toString("utf8")
  return decoded.length > 1 && decoded.indexOf(":") === decoded.length - 1
}

/**
 * Auth first, then the body: the answer of the real API. `expected` is the exact header a configured write key
 * gives; without one any key is taken.
 */
const judge = (
  parsed: Parsed,
  authorization: string | undefined,
  expected: string | undefined
): { readonly status: number; readonly error: string | undefined } => {
  // Never echo what was sent or expected: either may be a real key.
  if (authorization === undefined) {
    return { status: 401, error: "missing Authorization header: send Basic auth with the write key as the user name" }
  }
  if (expected === undefined ? !isBasicWithKey(authorization) : authorization !== expected) {
    return {
      status: 401,
      error: expected === undefined
        ? "the Authorization header is not Basic auth with the write key as the user name"
        : "the write key is wrong"
    }
  }
  return parsed.problem ?? { status: 200, error: undefined }
}

export interface Endpoint {
  /** The store in use (it is replaced on reset). */
  readonly store: () => Store
  readonly faults: Faults
  /** `Basic base64(writeKey + ":")`, or `undefined` to take any key. */
  readonly expectedAuthorization: string | undefined
  /** Tells waiters (`waitFor`, the inspector) that something was recorded. */
  readonly changed: () => void
}

/** The handler of `POST {path}`. */
export const makeEndpoint = (endpoint: Endpoint) =>
  Effect.fnUntraced(function*(request: HttpServerRequest.HttpServerRequest) {
    const at = yield* Clock.currentTimeMillis
    const fault = yield* endpoint.faults.next
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
    const parsed = Result.isSuccess(body) ? parse(body.success, encoding) : unreadable(body.failure)
    const messages = parsed.items.length
    const save = (
      entry: { status: number | undefined; fault: RequestFault; error: string | undefined },
      accept: boolean
    ) =>
      Effect.sync(() => {
        endpoint.store().record({ ...base, bytes, messages, ...entry }, parsed.items, accept)
        endpoint.changed()
      })

    if (fault !== undefined && fault._tag !== "Latency" && fault._tag !== "Normal") {
      switch (fault._tag) {
        case "Hang": {
          yield* save({ status: undefined, fault: "hang", error: undefined }, false)
          return yield* Effect.never
        }
        case "Drop": {
          yield* save({ status: undefined, fault: "drop", error: undefined }, false)
          return drop(request)
        }
        case "Status":
        case "FailureRate": {
          const kind = fault._tag === "Status" ? "status" : "failureRate"
          yield* save({ status: fault.status, fault: kind, error: undefined }, false)
          return statusResponse(fault.status, fault.retryAfter, fault._tag === "Status" ? fault.body : undefined)
        }
      }
    }

    const latency = fault?._tag === "Latency" ? fault.delay : undefined
    // A body that could not be read is refused before auth is looked at, as before.
    const verdict = Result.isFailure(body) && parsed.problem !== undefined
      ? parsed.problem
      : judge(parsed, headers["authorization"], endpoint.expectedAuthorization)
    yield* save(
      { status: verdict.status, fault: latency === undefined ? undefined : "latency", error: verdict.error },
      verdict.status === 200
    )
    // Recorded before the wait: the work is done, only the answer is late, as when a real server is slow.
    if (latency !== undefined) yield* Effect.sleep(latency)
    return verdict.status === 200
      ? jsonResponse(200, { success: true })
      : jsonResponse(verdict.status, { success: false, error: verdict.error })
  })

type RequestFault = "status" | "latency" | "hang" | "drop" | "failureRate" | undefined

const unreadable = (error: HttpServerError.HttpServerError): Parsed => {
  const reason = error.reason
  return reason._tag === "RequestParseError" && reason.reason === "BodyTooLarge"
    ? refused(413, `the body is over ${maxWireBytes} bytes`)
    : refused(400, "the body could not be read")
}
