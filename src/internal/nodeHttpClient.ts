/**
 * The Promise facade's default `HttpClient` on Node: `node:http`/`node:https` with keep-alive agents, and nothing
 * else to install.
 *
 * It is deliberately narrow, for what the transport sends: one request with a byte body, one answer whose body is
 * read into memory up to the transport's 64 KiB (the rest is dropped with the connection). Streaming bodies and
 * upgrades are refused. General-purpose clients are `@effect/platform-node`'s `NodeHttpClient` and
 * `FetchHttpClient`; this one exists so that `npm install cdp-analytics-effect` alone delivers at node:http's speed.
 *
 * Node's modules are passed in, never imported here: the facade loads them with `import()` (see
 * `defaultHttpClient.ts`), so that a bundle holding this module in one file (how Workers are bundled) has no static
 * `import "node:http"` and loads where there is none.
 */
import * as Effect from "effect/Effect"
import * as Cookies from "effect/http/Cookies"
import * as Headers from "effect/http/Headers"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as UrlParams from "effect/http/UrlParams"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import * as Redacted from "effect/Redacted"
import * as Stream from "effect/Stream"
import type * as Http from "node:http"
import type * as Https from "node:https"
import { maxResponseBytes } from "./transport.ts"

export interface Options {
  /** Sockets per host, kept alive between requests. */
  readonly maxSockets: number
}

/** `node:http` and `node:https`, as the caller loaded them. */
export interface Modules {
  readonly http: typeof Http
  readonly https: typeof Https
}

const decoder = new TextDecoder()

class BufferedResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId] = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId] = HttpClientResponse.TypeId
  readonly request: HttpClientRequest.HttpClientRequest
  readonly url: string
  readonly status: number
  readonly headers: Headers.Headers
  readonly remoteAddress: Option.Option<string>
  readonly #body: Uint8Array

  constructor(
    request: HttpClientRequest.HttpClientRequest,
    url: string,
    source: Http.IncomingMessage,
    body: Uint8Array
  ) {
    super()
    this.request = request
    this.url = url
    this.status = source.statusCode ?? 0
    this.headers = Headers.fromInput(source.headers as Record<string, string | ReadonlyArray<string>>)
    this.remoteAddress = Option.fromNullishOr(source.socket?.remoteAddress)
    this.#body = body
    this.#setCookie = source.headers["set-cookie"] ?? []
  }

  readonly #setCookie: ReadonlyArray<string>

  get cookies(): Cookies.Cookies {
    return Cookies.fromSetCookie(this.#setCookie)
  }

  #decodeError(cause: unknown) {
    return new HttpClientError.HttpClientError({
      reason: new HttpClientError.DecodeError({ request: this.request, response: this, cause })
    })
  }

  get text(): Effect.Effect<string, HttpClientError.HttpClientError> {
    return Effect.sync(() => decoder.decode(this.#body))
  }

  get json(): Effect.Effect<any, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => text === "" ? null : JSON.parse(text),
        catch: (cause) => this.#decodeError(cause)
      }))
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.HttpClientError> {
    return Effect.sync(() => this.#body.slice().buffer)
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.text, (text) =>
      Effect.try({
        try: () => UrlParams.fromInput(new URLSearchParams(text)),
        catch: (cause) => this.#decodeError(cause)
      }))
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.HttpClientError> {
    return this.#body.byteLength === 0 ? Stream.empty : Stream.succeed(this.#body)
  }

  get formData(): Effect.Effect<FormData, HttpClientError.HttpClientError> {
    return Effect.fail(this.#decodeError(new Error("form data bodies are not supported by this client")))
  }

  get upgrade(): HttpClientResponse.HttpClientResponse["upgrade"] {
    return Effect.fail(
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.StatusCodeError({
          request: this.request,
          response: this,
          description: "upgrades are not supported by this client"
        })
      })
    )
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}

const transportError = (request: HttpClientRequest.HttpClientRequest, cause: unknown, description: string) =>
  new HttpClientError.HttpClientError({ reason: new HttpClientError.TransportError({ request, cause, description }) })

const execute = (
  modules: Modules,
  agents: { readonly http: Http.Agent; readonly https: Https.Agent },
  request: HttpClientRequest.HttpClientRequest,
  url: URL
) =>
  Effect.callback<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>((resume) => {
    const body = request.body
    let payload: Uint8Array | string | undefined
    if (body._tag === "Uint8Array") payload = body.body
    else if (body._tag === "Raw" && (typeof body.body === "string" || body.body instanceof Uint8Array)) {
      payload = body.body
    } else if (body._tag !== "Empty") {
      resume(Effect.fail(transportError(request, undefined, `${body._tag} bodies are not supported by this client`)))
      return
    }
    const https = url.protocol === "https:"
    const req = (https ? modules.https : modules.http).request(url, {
      method: request.method,
      headers: request.headers,
      agent: https ? agents.https : agents.http
    })
    let settled = false
    const fail = (cause: unknown) => {
      if (settled) return
      settled = true
      req.destroy()
      resume(Effect.fail(transportError(request, cause, cause instanceof Error ? cause.message : String(cause))))
    }
    req.on("error", fail)
    req.on("response", (source) => {
      const chunks: Array<Uint8Array> = []
      let size = 0
      const finish = () => {
        if (settled) return
        settled = true
        const buffer = chunks.length === 1 ? chunks[0]! : concat(chunks, size)
        resume(Effect.succeed(new BufferedResponse(request, url.href, source, buffer)))
      }
      source.on("data", (chunk: Uint8Array) => {
        if (size >= maxResponseBytes) return
        const room = maxResponseBytes - size
        chunks.push(chunk.byteLength > room ? chunk.subarray(0, room) : chunk)
        size += Math.min(chunk.byteLength, room)
        // Enough: what follows is dropped with the connection, which then is not reused.
        if (size >= maxResponseBytes) {
          source.destroy()
          finish()
        }
      })
      source.on("end", finish)
      // A body cut short still came with a status, which is the answer that matters.
      source.on("error", finish)
      source.on("close", finish)
    })
    req.end(payload)
    return Effect.sync(() => {
      if (settled) return
      settled = true
      req.destroy()
    })
  })

const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  const out = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.byteLength
  }
  return out
}

const agentOptions = { keepAlive: true, timeout: 5_000, scheduling: "lifo" } as const

/** An `HttpClient` over `node:http` and `node:https` with keep-alive agents, closed with the layer's scope. */
export const layer = (modules: Modules, options: Options): Layer.Layer<HttpClient.HttpClient> =>
  Layer.effect(
    HttpClient.HttpClient,
    Effect.map(
      Effect.acquireRelease(
        Effect.sync(() => ({
          // As Node's own global agent: an idle socket is closed after 5 s, before the server is likely to close it
          // under a request (which would cost a retry).
          http: new modules.http.Agent({ ...agentOptions, maxSockets: options.maxSockets }),
          https: new modules.https.Agent({ ...agentOptions, maxSockets: options.maxSockets })
        })),
        (agents) =>
          Effect.sync(() => {
            agents.http.destroy()
            agents.https.destroy()
          })
      ),
      (agents) => {
        // `HttpClient.makeWith` rather than `make`: `make` parses the URL and builds an AbortController and a span
        // check for every request, which is a third of what a request costs here; interruption aborts the request
        // anyway (the callback's canceler destroys it). The transport asks for one URL, so it is parsed once.
        const urls = new Map<string, URL>()
        const urlOf = (request: HttpClientRequest.HttpClientRequest): URL => {
          let url = urls.get(request.url)
          if (url === undefined) {
            url = new URL(request.url)
            if (urls.size < 16) urls.set(request.url, url)
          }
          if (request.urlParams.params.length === 0 && Option.isNone(request.hash)) return url
          const full = new URL(url)
          for (const [key, value] of request.urlParams.params) {
            full.searchParams.append(key, typeof value === "string" ? value : Redacted.value(value))
          }
          if (Option.isSome(request.hash)) full.hash = request.hash.value
          return full
        }
        return HttpClient.makeWith<HttpClientError.HttpClientError, never, HttpClientError.HttpClientError, never>(
          (effect) => Effect.flatMap(effect, (request) => execute(modules, agents, request, urlOf(request))),
          Effect.succeed
        )
      }
    )
  )
