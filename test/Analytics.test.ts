/**
 * The Promise facade. Each documented example of the original library runs here as written (only the host and the
 * key differ) against a real HTTP server on 127.0.0.1, and the server sees what the documentation promises.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import type { EmittedError } from "../src/Analytics.ts"
import type { AnalyticsError as AnalyticsErrorType } from "../src/AnalyticsError.ts"
import { Analytics, AnalyticsError, type AnalyticsSettings, CallContext, ValidationError } from "../src/index.ts"
import { type Sink, start } from "./utils/sink.ts"

const writeKey = "wk_facade_5ecret"
const sinks: Array<Sink> = []
const clients: Array<Analytics> = []

const sink = async (answer?: Parameters<typeof start>[0]) => {
  const s = await start(answer)
  sinks.push(s)
  return s
}
const client = (settings: Partial<AnalyticsSettings> & { host: string }) => {
  const analytics = new Analytics({ writeKey, ...settings })
  clients.push(analytics)
  return analytics
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndFlush({ timeout: 1_000 })))
  await Promise.all(sinks.splice(0).map((s) => s.close()))
})

describe("Analytics (documented examples)", () => {
  it("identify", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host })
    cioanalytics.identify({
      userId: "019mr8mf4r",
      traits: { name: "Cool Person", email: "cool.person@example.com", plan: "Enterprise", friends: 42 }
    })
    await cioanalytics.closeAndFlush()
    const [message] = server.messages()
    assert.strictEqual(message.type, "identify")
    assert.strictEqual(message.userId, "019mr8mf4r")
    assert.deepStrictEqual(message.traits, {
      name: "Cool Person",
      email: "cool.person@example.com",
      plan: "Enterprise",
      friends: 42
    })
    assert.strictEqual(
      server.requests[0].headers.authorization,
      `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`
    )
  })

  it("track with userId and with anonymousId", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host })
    const properties = { product: "shoes", revenue: 39.95, qty: 1, size: 9 }
    cioanalytics.track({ userId: "019mr8mf4r", event: "added_to_cart", properties })
    cioanalytics.track({ anonymousId: "48d213bb-95c3-4f8d-af97-86b2b404dcfe", event: "added_to_cart", properties })
    await cioanalytics.closeAndFlush()
    const [a, b] = server.messages()
    assert.deepInclude(a, { type: "track", userId: "019mr8mf4r", event: "added_to_cart", properties })
    assert.deepInclude(b, { anonymousId: "48d213bb-95c3-4f8d-af97-86b2b404dcfe", event: "added_to_cart" })
  })

  it("page, with category copied into properties", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host })
    cioanalytics.page({
      userId: "019mr8mf4r",
      category: "Docs",
      name: "Customer.io CDP",
      properties: {
        url: "https://customer.io/cdp/",
        path: "/cdp/",
        title: "Customer.io CDP",
        referrer: "https://customer.io"
      }
    })
    await cioanalytics.closeAndFlush()
    const [message] = server.messages()
    assert.deepInclude(message, { type: "page", name: "Customer.io CDP", category: "Docs" })
    assert.strictEqual(message.properties.category, "Docs")
    assert.strictEqual(message.properties.url, "https://customer.io/cdp/")
  })

  it("group, with objectTypeId passed through", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host })
    cioanalytics.group({
      userId: "019mr8mf4r",
      groupId: "56",
      traits: { name: "Initech", description: "Accounting Software" }
    })
    cioanalytics.group({ userId: "019mr8mf4r", groupId: "57", traits: { name: "Acme", objectTypeId: 2 } })
    await cioanalytics.closeAndFlush()
    const [a, b] = server.messages()
    assert.deepInclude(a, { type: "group", groupId: "56", userId: "019mr8mf4r" })
    assert.strictEqual(b.traits.objectTypeId, 2)
  })

  it("alias, in the documented sequence", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host })
    cioanalytics.track({ userId: "anonymous_user", event: "Anonymous Event" })
    cioanalytics.alias({ previousId: "anonymous_user", userId: "identified@example.com" })
    cioanalytics.identify({ userId: "identified@example.com", traits: { plan: "Free" } })
    cioanalytics.track({ userId: "identified@example.com", event: "Identified Action" })
    await cioanalytics.closeAndFlush()
    assert.deepStrictEqual(server.messages().map((m) => m.type), ["track", "alias", "identify", "track"])
    assert.deepInclude(server.messages()[1], { previousId: "anonymous_user", userId: "identified@example.com" })
  })

  it("configuration: maxEventsInBatch and flushInterval", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host, maxEventsInBatch: 3, flushInterval: 10000 })
    cioanalytics.track({ userId: "u", event: "first" })
    await server.waitFor(1)
    for (let i = 0; i < 6; i++) cioanalytics.track({ userId: "u", event: `e${i}` })
    await server.waitFor(7)
    assert.deepStrictEqual(server.requests.map((r) => r.body.batch.length), [1, 3, 3])
  })

  it("error handling: the error event has code, reason and ctx", async () => {
    const server = await sink(() => 400)
    const errors: Array<{ code: string; reason: unknown; ctx?: unknown }> = []
    const client_ = client({ host: server.host })
    client_.on("error", (err) => errors.push(err))
    client_.track({ userId: "123", event: "Test Event" })
    await client_.closeAndFlush()
    assert.strictEqual(errors.length, 1)
    assert.strictEqual(errors[0].code, "delivery_failure")
    assert.strictEqual((errors[0].reason as AnalyticsErrorType).reason._tag, "HttpError")
    assert.strictEqual((errors[0].ctx as { event: { event: string } }).event.event, "Test Event")
  })

  it("development settings: maxEventsInBatch: 1 sends every call on its own", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host, maxEventsInBatch: 1 })
    for (let i = 0; i < 3; i++) cioanalytics.track({ userId: "u", event: `e${i}` })
    await server.waitFor(3)
    assert.deepStrictEqual(server.requests.map((r) => r.body.batch.length), [1, 1, 1])
  })

  it("selecting destinations: integrations pass through verbatim", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host })
    const integrations = { "All": false, "Mixpanel": true, "Google Analytics": false }
    cioanalytics.track({ event: "Membership Upgraded", userId: "97234974", integrations })
    await cioanalytics.closeAndFlush()
    assert.deepStrictEqual(server.messages()[0].integrations, integrations)
  })

  it("backfilling: a given timestamp is sent", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host })
    cioanalytics.track({ userId: "u", event: "old", timestamp: new Date("2020-01-02T03:04:05Z") })
    cioanalytics.track({ userId: "u", event: "older", timestamp: "2019-05-06T07:08:09.000Z" })
    await cioanalytics.closeAndFlush()
    assert.deepStrictEqual(server.messages().map((m) => m.timestamp), [
      "2020-01-02T03:04:05.000Z",
      "2019-05-06T07:08:09.000Z"
    ])
  })

  it("batching: the callback learns when the message was flushed", async () => {
    const server = await sink()
    const cioanalytics = client({ host: server.host })
    const outcome = await new Promise<{ err: unknown; event: unknown }>((resolve) => {
      cioanalytics.track({ userId: "019mr8mf4r", event: "Ultimate Played" }, function(err, batch) {
        resolve({ err, event: batch?.event })
      })
    })
    assert.isUndefined(outcome.err)
    assert.deepStrictEqual(outcome.event, server.messages()[0])
  })

  it("serverless: await track, then await closeAndFlush", async () => {
    const server = await sink()
    async function handler() {
      const cioanalytics = new Analytics({ writeKey, host: server.host })
      await cioanalytics.track({ userId: "019mr8mf4r", event: "Ultimate Played" })
      await cioanalytics.closeAndFlush()
    }
    await handler()
    assert.strictEqual(server.messages()[0].event, "Ultimate Played")
  })

  it("multiple clients are independent", async () => {
    const marketing = await sink()
    const app = await sink()
    const marketingAnalytics = client({ host: marketing.host, maxEventsInBatch: 1 })
    const appAnalytics = new Analytics({ writeKey: "APP_API_KEY", host: app.host })
    clients.push(appAnalytics)
    marketingAnalytics.track({ userId: "u", event: "m" })
    appAnalytics.track({ userId: "u", event: "a" })
    await appAnalytics.closeAndFlush()
    marketingAnalytics.track({ userId: "u", event: "m2" })
    await marketing.waitFor(2)
    assert.deepStrictEqual(app.messages().map((m) => m.event), ["a"])
    assert.deepStrictEqual(marketing.messages().map((m) => m.event), ["m", "m2"])
    assert.strictEqual(app.requests[0].headers.authorization, `Basic ${Buffer.from("APP_API_KEY:").toString("base64")}`)
  })
})

describe("Analytics (contract)", () => {
  it("methods are bound, so they can be destructured", async () => {
    const server = await sink()
    const { track, identify } = client({ host: server.host })
    identify({ userId: "u" })
    track({ userId: "u", event: "e" })
    await server.waitFor(1)
    assert.strictEqual(server.messages()[0].type, "identify")
  })

  it("invalid params throw ValidationError with .field, synchronously, and enqueue nothing", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    const thrown = (() => {
      try {
        analytics.track({ userId: "u", event: "" })
      } catch (e) {
        return e
      }
    })()
    assert.instanceOf(thrown, ValidationError)
    assert.strictEqual((thrown as ValidationError).field, "event")
    assert.include((thrown as ValidationError).message, "event")
    assert.throws(() => analytics.identify({} as never), ValidationError)
    await analytics.flush()
    assert.strictEqual(server.requests.length, 0)
  })

  it("bad options throw at construction, naming the option", () => {
    assert.throws(() => new Analytics({} as never), /writeKey" is missing/)
    assert.throws(() => new Analytics({ writeKey, maxEventsInBatch: 0 }), /maxEventsInBatch/)
    assert.throws(() => new Analytics({ writeKey, host: "nope" }), /host/)
    assert.throws(() => new Analytics({ writeKey, region: "mars" as never }), /region/)
  })

  it("the callback runs exactly once on final failure, with the reason", async () => {
    const server = await sink(() => 401)
    const analytics = client({ host: server.host })
    const calls: Array<unknown> = []
    analytics.track({ userId: "u", event: "e" }, (err) => calls.push(err))
    await analytics.closeAndFlush()
    assert.strictEqual(calls.length, 1)
    assert.strictEqual((calls[0] as AnalyticsErrorType).reason._tag, "HttpError")
  })

  it("close timeout: leftovers fail with flush_timeout, their callbacks run once, close resolves", async () => {
    const server = await sink(() => 503)
    const analytics = client({ host: server.host, maxRetries: 100 })
    const callbacks: Array<string> = []
    const codes: Array<string> = []
    analytics.on("error", (e) => codes.push(e.code))
    analytics.track({ userId: "u", event: "a" }, (err) => callbacks.push(err?.reason._tag ?? "ok"))
    analytics.track({ userId: "u", event: "b" }, (err) => callbacks.push(err?.reason._tag ?? "ok"))
    let closeError: AnalyticsErrorType | undefined
    await analytics.closeAndFlush({ timeout: 300 }, (err) => {
      closeError = err
    })
    assert.deepStrictEqual(callbacks, ["FlushTimeout", "FlushTimeout"])
    assert.deepStrictEqual(codes, ["flush_timeout", "flush_timeout"])
    assert.strictEqual(closeError?.reason._tag, "FlushTimeout")
    assert.isAbove(server.requests.length, 0)
  })

  it("a call after close: call_after_close event, ClientClosed callback, nothing sent", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    await analytics.closeAndFlush()
    await analytics.closeAndFlush() // idempotent
    await analytics.flush() // resolves: nothing is left to send
    const events: Array<unknown> = []
    analytics.on("call_after_close", (event) => events.push(event))
    const err = await new Promise<AnalyticsErrorType | undefined>((resolve) =>
      analytics.track({ userId: "u", event: "late" }, (e) => resolve(e))
    )
    assert.strictEqual(err?.reason._tag, "ClientClosed")
    assert.strictEqual(events.length, 1)
    assert.strictEqual(server.requests.length, 0)
  })

  it("emits per-type events after delivery, http_request/http_response with Authorization redacted, and drained", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    const seen: Array<string> = []
    let headers: Record<string, string> = {}
    analytics.on("track", (ctx) => seen.push(`track:${ctx.event.event}`))
    analytics.on("identify", () => seen.push("identify"))
    analytics.on("http_request", (request) => {
      headers = { ...request.headers }
      seen.push("http_request")
    })
    analytics.on(
      "http_response",
      (response) => seen.push(`http_response:${response.status}:${response.headers["content-type"]}`)
    )
    const drained = new Promise<void>((resolve) => analytics.once("drained", resolve))
    analytics.identify({ userId: "u" })
    analytics.track({ userId: "u", event: "x" })
    await analytics.flush()
    await drained
    assert.includeMembers(seen, ["http_request", "http_response:200:application/json", "identify", "track:x"])
    assert.strictEqual(headers.authorization, "<redacted>")
    assert.notInclude(JSON.stringify(headers), writeKey)
  })

  it("a throwing callback or listener never breaks the client", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    analytics.on("track", () => {
      throw new Error("listener boom")
    })
    analytics.track({ userId: "u", event: "a" }, () => {
      throw new Error("callback boom")
    })
    await analytics.flush()
    const ok = new Promise<unknown>((resolve) => analytics.track({ userId: "u", event: "b" }, resolve))
    await analytics.flush()
    assert.isUndefined(await ok)
    assert.deepStrictEqual(server.messages().map((m) => m.event), ["a", "b"])
  })

  it("a refused call's error event is emitted during the call, with the refused message in its ctx", async () => {
    const server = await sink()
    const analytics = client({ host: server.host, maxQueueSize: 1, maxEventsInBatch: 1, maxConcurrentRequests: 1 })
    const seen: Array<EmittedError> = []
    analytics.on("error", (e) => seen.push(e))
    const callbacks: Array<[string | undefined, unknown]> = []
    analytics.track({ userId: "u", event: "kept" })
    for (let i = 0; i < 100; i++) {
      analytics.track({ userId: "u", event: `refused_${i}` }, (err, ctx) => callbacks.push([err?.reason._tag, ctx]))
      // Nothing waits for a microtask: a burst keeps nothing per call for its listeners.
      assert.strictEqual(seen.length, i + 1)
    }
    assert.strictEqual(callbacks.length, 0, "callbacks run once the call has returned")
    analytics.track({ userId: "u", event: "big", properties: { blob: "x".repeat(40_000) } })
    await analytics.closeAndFlush()
    analytics.track({ userId: "u", event: "late" })
    assert.deepStrictEqual(callbacks, Array.from({ length: 100 }, () => ["QueueFull", undefined]))
    const summary = seen.map((e) => [e.code, e.ctx?.event.event, e.ctx?.failedDelivery()?.reason.reason._tag])
    assert.deepStrictEqual(summary.slice(0, 2), [["queue_full", "refused_0", "QueueFull"], [
      "queue_full",
      "refused_1",
      "QueueFull"
    ]])
    assert.deepStrictEqual(summary.slice(-2), [["message_too_large", "big", "MessageTooLarge"], [
      "call_after_close",
      "late",
      "ClientClosed"
    ]])
    for (const e of seen) {
      assert.strictEqual(e.ctx?.event.type, "track")
      assert.strictEqual(e.ctx?.event.userId, "u")
      assert.match(e.ctx!.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    }
  })

  it("a listener that makes a refused call itself is reported after it, not by recursion", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    await analytics.closeAndFlush()
    const late: Array<string | undefined> = []
    let done!: () => void
    const thousand = new Promise<void>((resolve) => {
      done = resolve
    })
    analytics.on("call_after_close", (event) => {
      late.push(event.event)
      if (late.length < 1_000) analytics.track({ userId: "u", event: `retry_${late.length}` })
      else done()
    })
    analytics.track({ userId: "u", event: "first" })
    assert.deepStrictEqual(late, ["first"], "the retry is not reported inside the listener that made it")
    await thousand
    assert.strictEqual(late.length, 1_000)
  })

  it("a refused call's callback that retries lets the client make progress (no microtask loop)", async () => {
    const server = await sink()
    const analytics = client({ host: server.host, maxQueueSize: 1, maxEventsInBatch: 1, maxConcurrentRequests: 1 })
    const delivered: Array<string> = []
    let refusals = 0
    // Retries from its own callback until the call is accepted: a busy loop if refusals never let I/O run.
    const send = (event: string) =>
      analytics.track({ userId: "u", event }, (err) => {
        if (err?.reason._tag === "QueueFull") {
          refusals++
          send(event)
        } else if (err === undefined) delivered.push(event)
      })
    for (let i = 0; i < 5; i++) send(`e${i}`)
    await server.waitFor(5)
    await analytics.flush()
    assert.sameMembers(delivered, ["e0", "e1", "e2", "e3", "e4"])
    assert.isAbove(refusals, 0)
  })

  it("closeAndFlush waits for the promises its callbacks return, within its timeout", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    let release!: () => void
    const released = new Promise<void>((resolve) => {
      release = resolve
    })
    let called!: () => void
    const callbackRan = new Promise<void>((resolve) => {
      called = resolve
    })
    analytics.track({ userId: "u", event: "e" }, async () => {
      called()
      await released
    })
    let closed = false
    const closing = analytics.closeAndFlush().then(() => {
      closed = true
    })
    await callbackRan
    // The callback ran; its promise is pending. Let every other pending callback and I/O turn pass.
    await new Promise((resolve) => setImmediate(resolve))
    assert.isFalse(closed, "still waiting for the callback's promise")
    release()
    await closing
    assert.isTrue(closed)
  })

  it("closeAndFlush stops waiting for a callback's promise at its timeout, and a rejected one is harmless", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    analytics.track({ userId: "u", event: "never" }, () => new Promise<void>(() => {}))
    analytics.track({ userId: "u", event: "rejects" }, () => Promise.reject(new Error("callback failed")))
    await analytics.closeAndFlush({ timeout: 200 })
    assert.strictEqual(server.messages().length, 2)
  })

  it("ValidationError is one class, reachable from ESM, from the class (CommonJS), and from AnalyticsError", () => {
    const analytics = new Analytics({ writeKey, disable: true })
    clients.push(analytics)
    const thrown = (() => {
      try {
        analytics.track({ userId: "u" } as never)
      } catch (error) {
        return error
      }
    })()
    assert.instanceOf(thrown, ValidationError)
    assert.instanceOf(thrown, Error)
    assert.instanceOf(thrown, AnalyticsError.ValidationError)
    assert.strictEqual(Analytics.ValidationError, ValidationError)
    assert.strictEqual(Analytics.Context, CallContext)
    assert.strictEqual((thrown as ValidationError).field, "event")
    assert.strictEqual((thrown as ValidationError).name, "ValidationError")
  })

  it("an error with no listener does not crash", async () => {
    const server = await sink(() => 500)
    const analytics = client({ host: server.host, maxRetries: 0 })
    analytics.track({ userId: "u", event: "a" })
    await analytics.closeAndFlush()
    assert.strictEqual(server.requests.length, 1)
  })
})
