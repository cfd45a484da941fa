/**
 * The inspector's routes: the page at `/` and its assets (shipped in the package, no network), the live feed of
 * requests and messages over Server-Sent Events, and the JSON API under `/inspector/api/` that the page itself uses.
 *
 * Reading needs nothing but reaching the collector (on 127.0.0.1, with the right `Host`); the fault controls also need
 * the token printed at start, in the `X-Collector-Token` header.
 */
import * as Effect from "effect/Effect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import type * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as Assets from "./assets.ts"
import type { Check } from "./checks.ts"
import type { Faults } from "./faults.ts"
import { Answer } from "./model.ts"
import { isToken, randomId, tokenHeader } from "./security.ts"
import { inspectorMaxBytes, type MessageEntry, type RequestEntry, type Signal, type Store } from "./store.ts"

/** How often, at most, an open page gets an update: changes in between are sent together. */
const updateIntervalMillis = 100

/** Messages per update while a page catches up, so a page opened on 100 000 messages fills in steps. */
const chunkMessages = 2_000

/** Most answers the page or the API may queue in one call. */
const maxFaultCount = 10_000

/** What the inspector needs from the collector. */
export interface Deps {
  /** The store in use; `generation` counts the resets that replaced it. */
  readonly store: () => Store
  readonly generation: () => number
  readonly faults: Faults
  readonly signal: Signal
  readonly token: Redacted.Redacted<string>
  /** Where clients send: `http://127.0.0.1:PORT/v1/batch`. */
  readonly endpoint: string
  readonly plan: boolean
  /** How many messages the inspector keeps. */
  readonly retain: number
  /** Whether an `Origin` header names the collector itself. */
  readonly sameOrigin: (origin: string) => boolean
  /** Tells waiters that something changed (faults queued or cleared). */
  readonly changed: () => void
}

/** A message as the page gets it. */
export interface MessageRow {
  readonly seq: number
  readonly request: number
  readonly index: number
  readonly at: number
  readonly type: string
  readonly userId: string | undefined
  readonly anonymousId: string | undefined
  /** `event` of a track, `name` of a page or screen, `groupId` of a group, `previousId` of an alias. */
  readonly name: string | undefined
  readonly timestamp: string | undefined
  readonly messageId: string | undefined
  readonly bytes: number
  readonly outcome: MessageEntry["outcome"]
  readonly checks: ReadonlyArray<Check>
  readonly json: string
}

const text = (u: unknown): string | undefined =>
  typeof u === "string" ? u : typeof u === "number" ? String(u) : undefined

export const messageRow = (entry: MessageEntry): MessageRow => {
  const value = typeof entry.value === "object" && entry.value !== null && !Array.isArray(entry.value)
    ? entry.value as Readonly<Record<string, unknown>>
    : {}
  const type = typeof value["type"] === "string" ? value["type"] : "?"
  const name = type === "group"
    ? text(value["groupId"])
    : type === "alias"
    ? text(value["previousId"])
    : text(value["event"]) ?? text(value["name"])
  return {
    seq: entry.seq,
    request: entry.request,
    index: entry.index,
    at: entry.at,
    type,
    userId: text(value["userId"]),
    anonymousId: text(value["anonymousId"]),
    name,
    timestamp: text(value["timestamp"]),
    messageId: text(value["messageId"]),
    bytes: entry.bytes,
    outcome: entry.outcome,
    checks: entry.checks,
    json: entry.json
  }
}

export const requestRow = (entry: RequestEntry) => ({
  seq: entry.seq,
  first: entry.first,
  count: entry.count,
  ...entry.record
})

const noStore = { "cache-control": "no-store", "x-content-type-options": "nosniff" }

const json = (body: unknown, status = 200) => HttpServerResponse.jsonUnsafe(body, { status, headers: noStore })

const problem = (status: number, error: string) => json({ error }, status)

/** The page may load its own script and style, and talk to its own origin; nothing else, nowhere else. */
const pageHeaders = {
  ...noStore,
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY"
}

const asset = (body: string, contentType: string) =>
  HttpServerResponse.text(body, { contentType, headers: { ...pageHeaders, "cache-control": "no-cache" } })

/** The answers the page offers, as the JSON API names them. */
const FaultRequest = Schema.Struct({
  fault: Schema.Literals(["500", "503", "429", "413", "hang", 500, 503, 429, 413]),
  count: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: maxFaultCount }))),
  retryAfter: Schema.optional(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 86_400 })))
})

const decodeFaultRequest = Schema.decodeUnknownResult(FaultRequest)

const answerOf = (request: typeof FaultRequest.Type): Answer =>
  request.fault === "hang"
    ? Answer.hang
    : Number(request.fault) === 429
    ? Answer.status(429, { retryAfter: request.retryAfter ?? 1 })
    : Answer.status(Number(request.fault))

/** The `after` and `limit` query parameters of the list endpoints. */
const range = (url: URL) => {
  const after = Number(url.searchParams.get("after") ?? "0")
  const limit = Number(url.searchParams.get("limit") ?? "1000")
  return {
    after: Number.isSafeInteger(after) && after > 0 ? after : 0,
    limit: Number.isSafeInteger(limit) && limit > 0 ? Math.min(limit, 10_000) : 1000
  }
}

/** One Server-Sent Event; JSON has no raw newline, so `data` is one line. */
const sse = (event: string, data: unknown, id?: string) =>
  `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`

export const make = (deps: Deps) => {
  /** Tells apart the processes a page may reconnect to, so a restarted collector is not mistaken for the old one. */
  const instance = randomId()

  const state = () => {
    const store = deps.store()
    return {
      endpoint: deps.endpoint,
      plan: deps.plan,
      retain: deps.retain,
      retainJson: inspectorMaxBytes,
      retained: store.retained(),
      stats: store.stats(),
      counters: store.counters(),
      faults: { pending: deps.faults.pending(), failureRate: deps.faults.rate() }
    }
  }

  /**
   * The live feed: the current state and every retained request with its messages, then each change, at most every
   * `updateIntervalMillis`. The event id is where the page got to; a reconnecting `EventSource` sends it back as
   * `Last-Event-ID` and gets only what it missed.
   */
  const feed = (lastEventId: string | undefined): Stream.Stream<Uint8Array> => {
    const [from, fromGeneration, fromRequest] = (lastEventId ?? "").split(".")
    const resumes = from === instance && Number(fromGeneration) === deps.generation()
    let generation = resumes ? Number(fromGeneration) : -1
    let cursor = resumes ? Number(fromRequest) || 0 : 0
    let sentVersion = -1
    const next = Effect.gen(function*() {
      while (true) {
        const version = deps.signal.version
        let out = ""
        if (generation !== deps.generation()) {
          out += `retry: 1000\n${sse("reset", { generation: deps.generation() })}`
          generation = deps.generation()
          cursor = 0
        }
        const chunk = deps.store().requestsAfter(cursor, chunkMessages)
        const last = chunk.requests[chunk.requests.length - 1]
        if (last !== undefined) {
          cursor = last.seq
          out += sse(
            "rows",
            { requests: chunk.requests.map(requestRow), messages: chunk.messages.map(messageRow) },
            `${instance}.${generation}.${cursor}`
          )
        }
        if (version !== sentVersion) {
          out += sse("state", state())
          sentVersion = version
        }
        if (out !== "") return out
        yield* deps.signal.wait(version)
        yield* Effect.sleep(updateIntervalMillis)
      }
    })
    return Stream.fromEffectRepeat(next).pipe(Stream.encodeText)
  }

  const control = (request: HttpServerRequest.HttpServerRequest): string | undefined => {
    if (!isToken(deps.token, request.headers[tokenHeader])) {
      return "the fault controls need the token printed when the collector started (the URL's ?token=…), sent as the X-Collector-Token header"
    }
    const origin = request.headers["origin"]
    if (origin !== undefined && !deps.sameOrigin(origin)) return "a page from another origin may not use the controls"
    return undefined
  }

  const faults = Effect.fnUntraced(function*(request: HttpServerRequest.HttpServerRequest) {
    if (request.method === "GET") return json(state().faults)
    if (request.method !== "POST" && request.method !== "DELETE") return problem(405, "use GET, POST or DELETE")
    const refused = control(request)
    if (refused !== undefined) return problem(403, refused)
    if (request.method === "DELETE") {
      deps.faults.clear()
      deps.changed()
      return json(state().faults)
    }
    const body = yield* Effect.result(request.json)
    const decoded = Result.isSuccess(body) ? decodeFaultRequest(body.success) : undefined
    if (decoded === undefined || Result.isFailure(decoded)) {
      return problem(
        400,
        `send {"fault": "500" | "503" | "429" | "413" | "hang", "count": 1..${maxFaultCount}, "retryAfter": seconds (429)}${
          decoded === undefined ? "" : `: ${decoded.failure.message}`
        }`
      )
    }
    const answer = answerOf(decoded.success)
    deps.faults.script(Array.from({ length: decoded.success.count ?? 1 }, () => answer))
    deps.changed()
    return json(state().faults)
  })

  /** The response for a request to the page or the API, or `undefined` when the path is not the inspector's. */
  return (
    request: HttpServerRequest.HttpServerRequest,
    url: URL
  ): Effect.Effect<HttpServerResponse.HttpServerResponse> | undefined => {
    const path = url.pathname
    const isGet = request.method === "GET" || request.method === "HEAD"
    if (path === "/" || path === "/index.html") {
      return Effect.succeed(
        isGet ? asset(Assets.html, "text/html; charset=utf-8") : HttpServerResponse.empty({ status: 405 })
      )
    }
    if (!path.startsWith("/inspector/")) return undefined
    switch (path) {
      case "/inspector/app.js":
        return Effect.succeed(asset(Assets.script, "text/javascript; charset=utf-8"))
      case "/inspector/app.css":
        return Effect.succeed(asset(Assets.style, "text/css; charset=utf-8"))
      case "/inspector/api/faults":
        return faults(request)
    }
    if (!isGet) return Effect.succeed(problem(405, "use GET"))
    switch (path) {
      case "/inspector/api/state":
        return Effect.succeed(json({ ...state(), control: isToken(deps.token, request.headers[tokenHeader]) }))
      case "/inspector/api/events":
        return Effect.succeed(
          HttpServerResponse.stream(feed(request.headers["last-event-id"]), {
            contentType: "text/event-stream",
            headers: { ...noStore, "x-accel-buffering": "no" }
          })
        )
      case "/inspector/api/messages": {
        const { after, limit } = range(url)
        const messages = deps.store().messagesAfter(after, limit).map(messageRow)
        return Effect.succeed(json({ messages, next: messages[messages.length - 1]?.seq ?? after }))
      }
      case "/inspector/api/requests": {
        const { after, limit } = range(url)
        const requests = deps.store().requestsAfter(after, 0, limit).requests.map(requestRow)
        return Effect.succeed(json({ requests, next: requests[requests.length - 1]?.seq ?? after }))
      }
    }
    return Effect.succeed(problem(404, `no such page: ${path}`))
  }
}
