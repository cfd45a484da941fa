/**
 * `beforeSend`: the facade's synchronous function (change, drop, throw, return something invalid), and the Effect
 * API's steps (`Enrich`): the current span's ids under a real span, the end user's IP from a real request to
 * Effect's HTTP server on 127.0.0.1 (with and without trusted proxies), static context, removed paths, sampling with
 * a seeded `Random`; what a step returns is checked again and measured, and a drop is counted.
 */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as IpNetwork from "effect/net/IpNetwork"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import { createServer, request } from "node:http"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import * as AnalyticsMetrics from "../src/AnalyticsMetrics.ts"
import * as Enrich from "../src/Enrich.ts"
import { Analytics, ValidationError } from "../src/index.ts"
import type * as Message from "../src/Message.ts"
import * as MockHttp from "./utils/MockHttp.ts"

const track = { userId: "u1", event: "Clicked", properties: { button: "buy", email: "ada@example.com" } }

/** The message `layerTest` would send for a call, through `step`. */
const sentWith = (
  step: Enrich.Step,
  call: (a: AnalyticsClient.Service) => Effect.Effect<AnalyticsClient.Receipt, unknown>
) =>
  Effect.gen(function*() {
    const analytics = yield* AnalyticsClient.AnalyticsClient
    return (yield* call(analytics)).message
  }).pipe(Effect.provide(AnalyticsClient.layerTest.pipe(Layer.provide(Enrich.layer(step)))))

describe("beforeSend, Promise API", () => {
  const capture = (beforeSend: (message: Message.WireMessage) => Message.WireMessage | null) => {
    const sent: Array<Message.WireMessage> = []
    const analytics = new Analytics({
      writeKey: "wk_before",
      disable: true,
      beforeSend: (message) => {
        const out = beforeSend(message)
        if (out !== null) sent.push(out)
        return out
      }
    })
    return { analytics, sent }
  }

  it("sends what it returns", async () => {
    const { analytics, sent } = capture((message) => ({
      ...message,
      context: { ...message.context, app: { name: "shop" } }
    }))
    analytics.track(track)
    await analytics.closeAndFlush()
    assert.deepStrictEqual(sent[0]!.context.app, { name: "shop" })
  })

  it("drops on null: the callback runs without an error, the receipt resolves, the metric counts it", async () => {
    const before = Number((await Effect.runPromise(Metric.value(AnalyticsMetrics.filtered))).count)
    const { analytics, sent } = capture(() => null)
    const told: Array<unknown> = []
    const receipt = analytics.track(track, (error, ctx) => void told.push(error, ctx?.event.event))
    await receipt.delivered
    await analytics.closeAndFlush()
    assert.deepStrictEqual(sent, [])
    assert.deepStrictEqual(told, [undefined, "Clicked"])
    const after = Number((await Effect.runPromise(Metric.value(AnalyticsMetrics.filtered))).count)
    assert.strictEqual(after - before, 1)
  })

  it("checks what it returns again: an invalid message is refused, naming the field", async () => {
    const { analytics } = capture((message) => ({ ...message, properties: { bad: Number.NaN } }))
    const error = (() => {
      try {
        analytics.track(track)
      } catch (thrown) {
        return thrown
      }
    })()
    assert.instanceOf(error, ValidationError)
    assert.strictEqual((error as ValidationError).field, "properties.bad")
    await analytics.closeAndFlush()
  })

  it("a beforeSend that throws makes the call throw a ValidationError saying so", async () => {
    const { analytics } = capture(() => {
      throw new Error("boom")
    })
    assert.throws(() => analytics.track(track), ValidationError, /beforeSend threw: boom/)
    await analytics.closeAndFlush()
  })

  it("the 32 KB limit applies to what it returns", async () => {
    const { analytics } = capture((message) => ({ ...message, properties: { blob: "x".repeat(40_000) } }))
    const refusals: Array<string> = []
    analytics.on("error", (error) => void refusals.push(error.code))
    analytics.track(track)
    await analytics.closeAndFlush()
    assert.deepStrictEqual(refusals, ["message_too_large"])
  })
})

describe("beforeSend, Effect API (Enrich)", () => {
  it.effect("traceContext adds the current span's ids, under a real span", () =>
    Effect.gen(function*() {
      const { message, span } = yield* Effect.gen(function*() {
        const checkout = yield* Effect.currentSpan
        return { message: yield* sentWith(Enrich.traceContext, (a) => a.track(track)), span: checkout }
      }).pipe(Effect.withSpan("checkout"))
      assert.strictEqual(message.context.traceId, span.traceId)
      assert.strictEqual(message.context.spanId, span.spanId)
      // A message that already names its trace keeps it.
      const named = yield* sentWith(Enrich.traceContext, (a) => a.track({ ...track, context: { traceId: "mine" } }))
        .pipe(Effect.withSpan("other"))
      assert.strictEqual(named.context.traceId, "mine")
    }))

  it.effect("staticContext adds fields, removePaths removes them, all runs them in order", () =>
    Effect.gen(function*() {
      const message = yield* sentWith(
        Enrich.all(
          Enrich.staticContext({ app: { name: "shop" }, ip: "never used: the message has none yet" }),
          Enrich.removePaths(["properties.email", "context.ip", "traits.ssn"])
        ),
        (a) => a.track(track)
      )
      assert.deepStrictEqual(message.properties, { button: "buy" })
      assert.deepStrictEqual(message.context.app, { name: "shop" })
      assert.isUndefined(message.context.ip)
    }))

  it.effect("sample keeps a share of one event, drawn from a seeded Random; other events pass", () =>
    Effect.gen(function*() {
      const kept = yield* Effect.gen(function*() {
        const analytics = yield* AnalyticsClient.AnalyticsClient
        let count = 0
        for (let i = 0; i < 1_000; i++) {
          const receipt = yield* analytics.track({ userId: "u1", event: "Scrolled" })
          yield* receipt.delivered
          count++
        }
        yield* analytics.track({ userId: "u1", event: "Purchased" })
        return count
      }).pipe(
        Effect.andThen(AnalyticsClient.AnalyticsRecorder.use((r) => r.messages)),
        Effect.provide(AnalyticsClient.layerTest.pipe(Layer.provide(Enrich.layer(Enrich.sample("Scrolled", 0.1))))),
        Random.withSeed(7)
      )
      const scrolled = kept.filter((m) => m.event === "Scrolled").length
      assert.isAbove(scrolled, 60)
      assert.isBelow(scrolled, 140)
      assert.strictEqual(kept.filter((m) => m.event === "Purchased").length, 1)
    }))

  it.effect("what a step returns is checked again", () =>
    Effect.gen(function*() {
      const breaking: Enrich.Step = (message) => Effect.succeed(Option.some({ ...message, userId: undefined } as never))
      const error = yield* Effect.flip(sentWith(breaking, (a) => a.track({ anonymousId: undefined, ...track })))
      assert.strictEqual((error as { reason: { _tag: string } }).reason._tag, "ValidationError")
    }))

  it.live("clientIp takes the end user's address from a real request, through trusted proxies only", () =>
    Effect.gen(function*() {
      const ipWith = (trustedProxies: ReadonlyArray<string>, forwardedFor: string | undefined) =>
        Effect.gen(function*() {
          const seen: Array<string | undefined> = []
          yield* Effect.gen(function*() {
            const analytics = yield* AnalyticsClient.AnalyticsClient
            yield* HttpServer.serveEffect(
              Effect.gen(function*() {
                const receipt = yield* Effect.orDie(analytics.track(track))
                seen.push(receipt.message.context.ip as string | undefined)
                return HttpServerResponse.empty()
              })
            )
            const port = yield* HttpServer.HttpServer.use((server) =>
              Effect.succeed((server.address as { readonly port: number }).port)
            )
            yield* Effect.promise(() =>
              new Promise<void>((resolve, reject) =>
                request(
                  {
                    host: "127.0.0.1",
                    port,
                    path: "/",
                    headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {}
                  },
                  (res) => res.resume().on("end", () => resolve())
                ).on("error", reject).end()
              )
            )
          }).pipe(
            Effect.provide(
              Layer.mergeAll(
                NodeHttpServer.layer(() => createServer(), { port: 0, host: "127.0.0.1" }),
                AnalyticsClient.layerTest.pipe(Layer.provide(Enrich.layer(Enrich.clientIp({ trustedProxies }))))
              )
            ),
            Effect.scoped
          )
          return seen[0]
        })
      // The peer is 127.0.0.1: a proxy only if trusted.
      assert.strictEqual(yield* ipWith([], "203.0.113.7"), "127.0.0.1")
      assert.strictEqual(yield* ipWith(["127.0.0.1"], "203.0.113.7"), "203.0.113.7")
      assert.strictEqual(
        yield* ipWith(["127.0.0.0/8", "10.0.0.0/8"], "198.51.100.1, 203.0.113.7, 10.1.2.3"),
        "203.0.113.7"
      )
      // A trusted proxy's own address is never the user's: with nothing past it, nothing is added.
      assert.isUndefined(yield* ipWith(["127.0.0.1"], undefined))
      assert.isUndefined(yield* ipWith(["127.0.0.1", "10.0.0.0/8"], "10.1.2.3"))
      // Outside a request there is no end user: nothing is added, never the server's own address.
      const outside = yield* sentWith(Enrich.clientIp({ trustedProxies: ["127.0.0.1"] }), (a) => a.track(track))
      assert.isUndefined(outside.context.ip)
      assert.throws(() => Enrich.clientIp({ trustedProxies: ["not an address"] }), /trustedProxies/)
    }))
})

describe("beforeSend: what it returns is rebuilt, and the caller's objects are left alone", () => {
  /** The message as the engine sent it (a `disable`d client settles at once), after `beforeSend`. */
  const sentBy = async (
    beforeSend: (message: Message.WireMessage) => Message.WireMessage | null,
    params: Parameters<Analytics["track"]>[0] = track
  ) => {
    const analytics = new Analytics({ writeKey: "wk_before", disable: true, beforeSend })
    const sent = new Promise<Message.WireMessage>((resolve, reject) =>
      analytics.track(params, (error, ctx) => error === undefined ? resolve(ctx!.event) : reject(error))
    )
    await analytics.closeAndFlush()
    return sent
  }

  it("a message changed in place is checked again", async () => {
    const analytics = new Analytics({
      writeKey: "wk_before",
      disable: true,
      beforeSend: (message) => {
        ;(message.properties as Record<string, unknown>).bad = Number.NaN
        return message
      }
    })
    // Params of its own: at fault, the in-place change would reach the caller's object.
    assert.throws(
      () => analytics.track({ ...track, properties: { button: "buy" } }),
      ValidationError,
      /properties\.bad/
    )
    await analytics.closeAndFlush()
  })

  it.effect("a message a step changed in place is checked again (Effect API)", () =>
    Effect.gen(function*() {
      const inPlace: Enrich.Step = (message) =>
        Effect.sync(() => {
          ;(message.properties as Record<string, unknown>).bad = Number.NaN
          return Option.some(message)
        })
      const error = yield* Effect.flip(
        Effect.gen(function*() {
          const analytics = yield* AnalyticsClient.AnalyticsClient
          return yield* analytics.track({ ...track, properties: { button: "buy" } })
        }).pipe(Effect.provide(AnalyticsClient.layerTest.pipe(Layer.provide(Enrich.layer(inPlace)))))
      )
      assert.isTrue(error.reason._tag === "ValidationError" && error.reason.field === "properties.bad")
    }))

  it("changing the message in place changes nothing of the caller's", async () => {
    const properties = { button: "buy", cart: { items: 2 } }
    const context = { app: { name: "shop" } }
    const sent = await sentBy((message) => {
      const props = message.properties as Record<string, any>
      props.cart.items = 3
      delete props.button
      ;(message.context as Record<string, any>).app.name = "changed"
      return message
    }, { ...track, properties, context })
    assert.deepStrictEqual(properties, { button: "buy", cart: { items: 2 } })
    assert.deepStrictEqual(context, { app: { name: "shop" } })
    assert.deepStrictEqual(sent.properties, { cart: { items: 3 } })
    assert.deepStrictEqual(sent.context.app, { name: "changed" })
  })

  it("keys of no call are dropped, values normalized as a call's params are, library and metadata kept ours", async () => {
    const sent = await sentBy((message) => ({
      ...message,
      userId: 42 as unknown as string,
      timestamp: new Date(Date.UTC(2026, 0, 2)) as unknown as string,
      context: { ...message.context, library: { name: "other", version: "0" } },
      _metadata: { jsRuntime: "other" },
      extra: "not a field of track"
    } as Message.WireMessage))
    assert.strictEqual(sent.userId, "42")
    assert.strictEqual(sent.timestamp, "2026-01-02T00:00:00.000Z")
    assert.notProperty(sent, "extra")
    assert.strictEqual(sent.context.library.name, "cdp-analytics-effect")
    assert.notStrictEqual(sent._metadata.jsRuntime, "other")
  })

  it.effect("the Effect API rebuilds what a step returns the same way", () =>
    Effect.gen(function*() {
      const step: Enrich.Step = (message) =>
        Effect.succeed(Option.some({ ...message, userId: 42, extra: true } as unknown as Message.WireMessage))
      const message = yield* sentWith(step, (a) => a.track(track))
      assert.strictEqual(message.userId, "42")
      assert.notProperty(message, "extra")
    }))

  it("a message dropped after close is refused as any call after close, not counted as delivered", async () => {
    const analytics = new Analytics({ writeKey: "wk_before", disable: true, logLevel: "None", beforeSend: () => null })
    await analytics.closeAndFlush()
    const outcome = await analytics.track(track).delivered.then(() => "delivered", (error) => error.reason._tag)
    assert.strictEqual(outcome, "ClientClosed")
  })

  it.effect("a message a step drops after close is refused with ClientClosed (Effect API)", () =>
    Effect.gen(function*() {
      const http = yield* MockHttp.make()
      const scope = yield* Scope.make()
      const analytics = yield* AnalyticsClient.make({ writeKey: "wk_before", logLevel: "None" }).pipe(
        Scope.provide(scope),
        Effect.provide(Layer.merge(http.layer, Enrich.layer(() => Effect.succeed(Option.none()))))
      )
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(analytics.track(track))
      assert.strictEqual(error.reason._tag, "ClientClosed")
    }))
})

describe("Enrich steps: edge cases", () => {
  it.effect("traceContext changes nothing when the caller has no span (the client's own span is not the caller's)", () =>
    Effect.gen(function*() {
      const message = yield* sentWith(Enrich.traceContext, (a) => a.track(track))
      assert.isUndefined(message.context.traceId)
      assert.isUndefined(message.context.spanId)
    }))

  it("clientAddress never answers with a trusted proxy's address", () => {
    const trusted = [
      Result.getOrThrow(IpNetwork.fromString("10.0.0.0/8")),
      Result.getOrThrow(IpNetwork.fromString("127.0.0.1/32"))
    ]
    assert.isUndefined(Enrich.clientAddress("127.0.0.1", undefined, trusted))
    assert.isUndefined(Enrich.clientAddress("127.0.0.1", "10.0.0.7, 10.0.0.8", trusted))
    assert.strictEqual(Enrich.clientAddress("127.0.0.1", "203.0.113.7, 10.0.0.8", trusted), "203.0.113.7")
    assert.strictEqual(Enrich.clientAddress("198.51.100.1", "203.0.113.7", trusted), "198.51.100.1")
  })

  it.effect("removePaths goes through arrays", () =>
    Effect.gen(function*() {
      const message = yield* sentWith(
        Enrich.removePaths(["properties.items.email", "properties.matrix.secret"]),
        (a) =>
          a.track({
            ...track,
            properties: {
              items: [{ sku: "a", email: "x@example.com" }, { sku: "b" }, "plain"],
              matrix: [[{ secret: 1, kept: 2 }]]
            }
          })
      )
      assert.deepStrictEqual(message.properties, {
        items: [{ sku: "a" }, { sku: "b" }, "plain"],
        matrix: [[{ kept: 2 }]]
      })
    }))
})
