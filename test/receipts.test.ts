/**
 * Delivery receipts over a real socket (a sink on 127.0.0.1): a receipt resolves on a 2xx for its message's batch,
 * rejects with the final error (400, retries used up, the close timeout, a refusal), resolves after retries end in a
 * 2xx; nobody has to read it, and an unread receipt makes no promise (so no unhandled rejection). The Effect API's
 * `delivered` waits the same way, and interrupting the wait leaves the message alone.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import { AnalyticsError } from "../src/AnalyticsError.ts"
import { Analytics, type AnalyticsSettings } from "../src/index.ts"
import * as NodeTransport from "../src/NodeTransport.ts"
import { type Answer, type Sink, start } from "./utils/sink.ts"

const sinks: Array<Sink> = []
const clients: Array<Analytics> = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.closeAndFlush({ timeout: 1_000 })))
  await Promise.all(sinks.splice(0).map((s) => s.close()))
})
const sink = async (answer?: Answer) => {
  const s = await start(answer)
  sinks.push(s)
  return s
}
const client = (settings: Partial<AnalyticsSettings> & { readonly host: string }) => {
  const analytics = new Analytics({ writeKey: "wk_receipts", maxEventsInBatch: 1, logLevel: "None", ...settings })
  clients.push(analytics)
  return analytics
}

/** Resolves once the sink has received `count` requests (whatever it answers). */
const arrived = async (server: Sink, count: number) => {
  while (server.requests.length < count) await new Promise((resolve) => setTimeout(resolve, 5))
}

const rejection = (promise: Promise<unknown>): Promise<AnalyticsError> =>
  promise.then(
    () => {
      throw new Error("resolved")
    },
    (error: unknown) => {
      if (error instanceof AnalyticsError) return error
      throw error
    }
  )

describe("receipts, Promise API", () => {
  it("resolves once the API answered 2xx for the message's batch", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    const receipt = analytics.track({ userId: "u1", event: "Delivered" })
    assert.match(receipt.messageId, /^[0-9a-f-]{36}$/)
    await receipt.delivered
    assert.deepStrictEqual(server.messages().map((m) => m.messageId), [receipt.messageId])
    assert.strictEqual(receipt.delivered, receipt.delivered, "one promise, made on first access")
  })

  it("rejects with the final status", async () => {
    const server = await sink(() => 400)
    const analytics = client({ host: server.host })
    const error = await rejection(analytics.track({ userId: "u1", event: "Refused" }).delivered)
    assert.strictEqual(error.reason._tag, "HttpError")
    assert.isTrue(error.reason._tag === "HttpError" && error.reason.status === 400)
  })

  it("resolves after retries that end in a 2xx, and rejects when they are used up", async () => {
    const recovering = await sink((_, index) => (index < 2 ? 503 : 200))
    const ok = client({ host: recovering.host, maxRetries: 3 })
    await ok.track({ userId: "u1", event: "Recovered" }).delivered
    assert.strictEqual(recovering.requests.length, 3)

    const down = await sink(() => 503)
    const failing = client({ host: down.host, maxRetries: 1 })
    const error = await rejection(failing.track({ userId: "u1", event: "Lost" }).delivered)
    assert.isTrue(error.reason._tag === "HttpError" && error.reason.status === 503)
  }, 20_000)

  it("rejects with FlushTimeout when close gives up on the message", async () => {
    const hanging = await sink(() => new Promise<number>(() => {}))
    const analytics = client({ host: hanging.host })
    const receipt = analytics.track({ userId: "u1", event: "Stuck" })
    await arrived(hanging, 1)
    await analytics.closeAndFlush({ timeout: 200 })
    const error = await rejection(receipt.delivered)
    assert.strictEqual(error.reason._tag, "FlushTimeout")
  })

  it("rejects with the refusal of a call that was refused after validation", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    await analytics.closeAndFlush()
    const error = await rejection(analytics.track({ userId: "u1", event: "Too late" }).delivered)
    assert.strictEqual(error.reason._tag, "ClientClosed")
  })

  it("an unread receipt of a failed message makes no promise, so nothing is left unhandled", async () => {
    const server = await sink(() => 400)
    const analytics = client({ host: server.host })
    const unhandled: Array<unknown> = []
    const onUnhandled = (reason: unknown) => void unhandled.push(reason)
    process.on("unhandledRejection", onUnhandled)
    try {
      analytics.track({ userId: "u1", event: "Ignored" })
      await analytics.closeAndFlush()
      await new Promise((resolve) => setTimeout(resolve, 50))
    } finally {
      process.off("unhandledRejection", onUnhandled)
    }
    assert.deepStrictEqual(unhandled, [])
  })

  it("callbacks and events keep working next to receipts", async () => {
    const server = await sink()
    const analytics = client({ host: server.host })
    const told: Array<string> = []
    analytics.on("track", (ctx) => void told.push(`event ${ctx.event.event}`))
    const receipt = analytics.track({ userId: "u1", event: "Both" }, (err) => void told.push(`callback ${err}`))
    await receipt.delivered
    await analytics.closeAndFlush()
    assert.sameMembers(told, ["callback undefined", "event Both"])
  })
})

describe("receipts, Effect API", () => {
  const layer = (host: string) =>
    AnalyticsClient.layer({ writeKey: "wk_receipts", host, maxEventsInBatch: 1, maxRetries: 0, logLevel: "None" })
      .pipe(Layer.provide(NodeTransport.layer()))

  it("delivered succeeds on a 2xx and fails with the final error", async () => {
    const server = await sink((request) => (request.body.batch[0]?.event === "Bad" ? 400 : 200))
    await Effect.gen(function*() {
      const analytics = yield* AnalyticsClient.AnalyticsClient
      const good = yield* analytics.track({ userId: "u1", event: "Good" })
      yield* good.delivered
      const bad = yield* analytics.track({ userId: "u1", event: "Bad" })
      const error = yield* Effect.flip(bad.delivered)
      assert.isTrue(error.reason._tag === "HttpError" && error.reason.status === 400)
      assert.strictEqual(good.messageId, good.message.messageId)
    }).pipe(Effect.provide(layer(server.host)), Effect.runPromise)
  })

  it("interrupting the wait leaves the message alone: it is still delivered", async () => {
    let release: (status: number) => void = () => {}
    const server = await sink(() => new Promise<number>((resolve) => release = resolve))
    await Effect.gen(function*() {
      const analytics = yield* AnalyticsClient.AnalyticsClient
      const receipt = yield* analytics.track({ userId: "u1", event: "Patient" })
      const waiting = yield* Effect.forkChild(receipt.delivered)
      yield* Effect.promise(() => arrived(server, 1))
      yield* Fiber.interrupt(waiting)
      release(200)
      yield* receipt.delivered
      yield* analytics.flush
    }).pipe(Effect.provide(layer(server.host)), Effect.runPromise)
    assert.deepStrictEqual(server.messages().map((m) => m.event), ["Patient"])
  })
})
