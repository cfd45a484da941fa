/**
 * Errors that explain themselves: a failed request keeps its cause (the code, the message, what to check), over real
 * sockets and through each kind of HTTP client; a 404 names the URL; a close timeout names the last attempt's error;
 * and `console.error(error)` shows the message, the stack and the reason.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { TestClock } from "effect/testing"
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import type { AddressInfo } from "node:net"
import { inspect } from "node:util"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import { AnalyticsError, HttpError, TransportError } from "../src/AnalyticsError.ts"
import * as NodeTransport from "../src/NodeTransport.ts"
import { setup } from "./utils/client.ts"

const writeKey = "wk_errors_5ecret"

const clients: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["node:http (the facade's)", NodeTransport.layer({ maxSockets: 1 })],
  ["fetch", FetchHttpClient.layer],
  ["undici", NodeHttpClient.layerUndici]
]

/** The one final error of one call sent to `host` with no retry. */
const failureOf = (host: string, http: Layer.Layer<HttpClient.HttpClient>) =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const context = yield* Layer.buildWithScope(
      AnalyticsClient.layer({ writeKey, host, maxRetries: 0, logLevel: "None" }).pipe(Layer.provide(http)),
      scope
    )
    const analytics = Context.get(context, AnalyticsClient.AnalyticsClient)
    const failures = yield* analytics.failures.pipe(Stream.runCollect, Effect.forkChild({ startImmediately: true }))
    yield* analytics.track({ userId: "u", event: "e" })
    yield* Scope.close(scope, Exit.void) // the stream ends once the failure is reported
    const [failure] = yield* Fiber.join(failures)
    return failure!.error
  })

/** A port on 127.0.0.1 that nothing listens on any more. */
const closedPort = () =>
  new Promise<number>((resolve) => {
    const server = Http.createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const selfSigned = () =>
  new Promise<{ readonly url: string; readonly close: () => void }>((resolve) => {
    const server = Https.createServer({
      key: readFileSync(new URL("fixtures/tls/key.pem", import.meta.url)),
      cert: readFileSync(new URL("fixtures/tls/cert.pem", import.meta.url))
    }, (_, res) => res.end("{}"))
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({ url: `https://127.0.0.1:${port}`, close: () => server.close() })
    })
  })

const transportReason = (error: AnalyticsError): TransportError => {
  assert.strictEqual(error.reason._tag, "TransportError", error.message)
  return error.reason as TransportError
}

describe("a failed request keeps its cause", () => {
  for (const [name, http] of clients) {
    it.live(`a refused connection names ECONNREFUSED and the origin (${name})`, () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(closedPort)
        const reason = transportReason(yield* failureOf(`http://127.0.0.1:${port}`, http))
        assert.strictEqual(reason.code, "ECONNREFUSED")
        assert.include(reason.description, `nothing accepts connections at http://127.0.0.1:${port}`)
        assert.include(reason.description, `check the "host" option and its port`)
      }))

    it.live(`a host name that does not resolve says so (${name})`, () =>
      Effect.gen(function*() {
        const reason = transportReason(yield* failureOf("http://cdp.custmer.invalid", http))
        assert.oneOf(reason.code, ["ENOTFOUND", "EAI_AGAIN"])
        assert.include(reason.description, `the host name of http://cdp.custmer.invalid does not resolve`)
        assert.include(reason.description, "cdp.custmer.invalid")
      }))

    it.live(`a refused TLS certificate says what to check (${name})`, () =>
      Effect.gen(function*() {
        const server = yield* Effect.acquireRelease(Effect.promise(selfSigned), (s) => Effect.sync(() => s.close()))
        const reason = transportReason(yield* failureOf(server.url, http))
        assert.match(reason.code ?? "", /SELF_SIGNED|CERT/)
        assert.include(reason.description, `the TLS certificate of ${server.url} was refused`)
      }))
  }

  it.effect("a request with no answer in time says which timeout", () =>
    Effect.gen(function*() {
      const { client, failures } = yield* setup({ maxRetries: 0, httpRequestTimeout: 1_000 }, () => Effect.never)
      yield* client.track({ userId: "u", event: "e" })
      yield* client.flush.pipe(Effect.forkChild({ startImmediately: true }))
      yield* TestClock.adjust(1_000)
      const reason = failures[0]!.error.reason as TransportError
      assert.strictEqual(reason.code, "TIMEOUT")
      assert.strictEqual(
        failures[0]!.error.message,
        "the request failed: no answer within httpRequestTimeout (1000 ms)"
      )
    }))

  it.effect("a 404 names the URL and the options to check", () =>
    Effect.gen(function*() {
      const { client, failures } = yield* setup({ host: "https://api.test/prefix" }, () =>
        Effect.succeed({ status: 404 }))
      yield* client.track({ userId: "u", event: "e" })
      yield* client.flush
      assert.strictEqual(
        failures[0]!.error.message,
        `the API answered 404 at https://api.test/prefix/v1/batch (no such endpoint: check the "host" and "path" options)`
      )
    }))
})

describe("AnalyticsError in a console", () => {
  it("util.inspect and console.error show the message, the stack and the reason", () => {
    const error = new AnalyticsError({ reason: new HttpError({ status: 401, body: "{}" }) })
    const shown = inspect(error)
    assert.match(
      shown,
      /^AnalyticsError: the API answered 401 \(the write key is wrong or lacks access\): \{\}\n {4}at /
    )
    assert.match(shown, /\n {2}reason: HttpError \{"status":401,"body":"\{\}"\}$/)
    assert.include(inspect({ nested: error }), "AnalyticsError: the API answered 401")
    assert.deepStrictEqual(JSON.parse(JSON.stringify(error)), {
      _tag: "AnalyticsError",
      message: "the API answered 401 (the write key is wrong or lacks access): {}",
      reason: { _tag: "HttpError", status: 401, body: "{}" }
    })
  })
})
