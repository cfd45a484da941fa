/**
 * The write key never leaks. A run with faults, through each API, captures everything the library says: Effect log
 * lines, console output, every error (thrown, failed, in callbacks, on the failures stream), every facade event.
 * A server that echoes the key back (raw, as its Basic token, as the whole header, cut in the middle by the body
 * limit) is part of the faults. No rendering of anything captured may contain the key in any of its forms.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { afterEach, assert, beforeEach, describe, it, vi } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Util from "node:util"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import * as Collector from "../src/Collector.ts"
import { Analytics } from "../src/index.ts"
import { MAX_MESSAGE_BYTES } from "../src/Message.ts"

const writeKey = "K3Y-7f9a2c41d8e6b5aa"
const token = Buffer.from(`${writeKey}:`).toString("base64")

/** Every form the key could leak in; a prefix too, for a key cut in half by a length limit. */
const secrets: ReadonlyArray<readonly [string, string]> = [
  ["the key", writeKey],
  ["its Basic token", token],
  ["its base64 without the colon", Buffer.from(writeKey).toString("base64")],
  ["its first 6 characters", writeKey.slice(0, 6)]
]

/**
 * Faults whose answers echo the key. One message per request and one request at a time, so each scripted answer
 * meets the next attempt; final statuses, so the echoed bodies end up in errors.
 */
const echoes = [
  Collector.Answer.status(500, { body: `{"error":"key ${writeKey} is rate limited"}` }),
  Collector.Answer.status(500, { body: `{"error":"key ${writeKey} is rate limited"}` }),
  Collector.Answer.status(400, { body: `bad request, you sent Authorization: Basic ${token}` }),
  Collector.Answer.status(401, { body: `{"error":"invalid credentials ${token}"}` }),
  // The body is cut at 500 characters: the key straddles the cut, 6 characters before it.
  Collector.Answer.status(422, { body: `${"x".repeat(494)}${writeKey}` }),
  Collector.Answer.drop,
  Collector.Answer.hang
]
const faultOptions = {
  maxEventsInBatch: 1,
  maxConcurrentRequests: 1,
  maxRetries: 1,
  maxQueueSize: 8,
  httpRequestTimeout: 300,
  flushInterval: 10
} as const

/** Everything said, in every way it could be printed. */
class Capture {
  readonly items: Array<{ readonly where: string; readonly value: unknown }> = []
  add(where: string, value: unknown) {
    this.items.push({ where, value })
  }
  renderings(): Array<{ readonly where: string; readonly text: string }> {
    const out: Array<{ where: string; text: string }> = []
    for (const { value, where } of this.items) {
      const texts = [String(value), Util.inspect(value, { depth: Infinity, showHidden: true, getters: true })]
      try {
        texts.push(JSON.stringify(value) ?? "")
      } catch {
        // circular: the inspect rendering covers it
      }
      if (value instanceof Error) texts.push(value.message, value.stack ?? "")
      for (const text of texts) out.push({ where, text })
    }
    return out
  }
  assertNoSecret() {
    const renderings = this.renderings()
    for (const { text, where } of renderings) {
      for (const [form, secret] of secrets) {
        assert.notInclude(text, secret, `${form} leaked through ${where}: ${text.slice(0, 300)}`)
      }
    }
    return renderings
  }
}

// Console output of either API (Effect's default logger prints there too), captured while each test runs.
let consoleCapture: Capture
beforeEach(() => {
  consoleCapture = new Capture()
  for (const method of ["log", "info", "warn", "error", "debug", "trace"] as const) {
    const original = console[method].bind(console)
    vi.spyOn(console, method).mockImplementation((...args: Array<unknown>) => {
      consoleCapture.add(`console.${method}`, Util.format(...args))
      original(...args)
    })
  }
  for (const stream of [process.stdout, process.stderr]) {
    const original = stream.write.bind(stream) as (...args: Array<unknown>) => boolean
    vi.spyOn(stream, "write").mockImplementation((...args: Array<unknown>) => {
      consoleCapture.add(stream === process.stdout ? "stdout" : "stderr", String(args[0]))
      return original(...args)
    })
  }
})
afterEach(() => {
  vi.restoreAllMocks()
})

const assertEchoesWereScrubbed = (capture: Capture) => {
  // Not vacuous: the echoing answers really reached the errors, with the key replaced.
  const messages = capture.items.map((i) => (i.value instanceof Error ? i.value.message : ""))
  for (const status of [500, 400, 401, 422]) {
    assert.isTrue(
      // "<reda…" for the body cut at 500 characters.
      messages.some((m) => m.includes(`answered ${status}`) && m.includes("<reda")),
      `the ${status} echo was reported, scrubbed`
    )
  }
}

describe("the write key never leaks", () => {
  it.live("Effect API: log lines, failed calls and the failures stream", () =>
    Effect.gen(function*() {
      const capture = new Capture()
      const lines: Array<string> = []
      const logger = Logger.layer([Logger.map(Logger.formatLogFmt, (line) => {
        lines.push(line)
      })])
      const collector = yield* Collector.make({ writeKey })
      yield* collector.script(echoes)

      const run = (options: Record<string, unknown>, calls: (client: AnalyticsClient.Service) => Effect.Effect<void>) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const context = yield* Layer.buildWithScope(
            AnalyticsClient.layer({ writeKey, host: collector.url, ...options }).pipe(
              Layer.provide(NodeHttpClient.layerUndici)
            ),
            scope
          )
          const client = Context.get(context, AnalyticsClient.AnalyticsClient)
          const subscriber = yield* client.failures.pipe(
            Stream.runForEach((failure) =>
              Effect.sync(() => {
                capture.add("failures stream", failure)
                capture.add("failures stream error", failure.error)
              })
            ),
            Effect.forkChild({ startImmediately: true })
          )
          yield* calls(client)
          yield* Scope.close(scope, Exit.void)
          yield* Fiber.join(subscriber)
          const late = yield* Effect.flip(client.track({ userId: "u", event: "after_close" }))
          capture.add("call after close", late)
        })
      const track = (client: AnalyticsClient.Service, params: unknown) =>
        client.track(params as never).pipe(
          Effect.tapError((error) => Effect.sync(() => capture.add("failed call", error))),
          Effect.ignore
        )

      yield* Effect.gen(function*() {
        yield* Effect.logDebug("probe: the log capture works")
        // Echoed keys, a reset, a hang, a full queue, invalid and oversized calls.
        yield* run(faultOptions, (client) =>
          Effect.gen(function*() {
            for (let i = 0; i < 12; i++) yield* track(client, { userId: "u", event: `fault_${i}` })
            yield* track(client, { userId: "u", event: "" })
            yield* track(client, { userId: "u", event: "big", properties: { pad: "x".repeat(MAX_MESSAGE_BYTES) } })
            yield* client.flush
          }))
        // Nobody listening: final transport errors.
        yield* collector.down
        yield* run({ maxRetries: 0, flushInterval: 10 }, (client) =>
          Effect.gen(function*() {
            for (let i = 0; i < 3; i++) yield* track(client, { userId: "u", event: `refused_${i}` })
            yield* client.flush
          }))
        // A hang at close: FlushTimeout.
        yield* collector.up
        yield* collector.script([Collector.Answer.hang])
        yield* run({ closeTimeout: 100, httpRequestTimeout: 10_000 }, (client) =>
          track(client, { userId: "u", event: "abandoned" }))
      }).pipe(Effect.provide(logger), Effect.provideService(References.MinimumLogLevel, "All"))

      const invalid = yield* Layer.build(
        AnalyticsClient.layer({ writeKey: ` ${writeKey} ` }).pipe(Layer.provide(NodeHttpClient.layerUndici))
      ).pipe(Effect.scoped, Effect.flip)
      capture.add("invalid option", invalid)

      for (const line of lines) {
        capture.add("log line", line)
      }
      assert.isTrue(lines.some((line) =>
        line.includes("probe: the log capture works")
      ))
      const tags = new Set(capture.items.map((i) => (i.value as { reason?: { _tag: string } }).reason?._tag))
      for (const tag of ["HttpError", "TransportError", "FlushTimeout", "QueueFull", "ValidationError"]) {
        assert.isTrue(tags.has(tag), `a ${tag} was captured`)
      }
      for (const tag of ["MessageTooLarge", "ClientClosed", "InvalidOption"]) assert.isTrue(tags.has(tag), tag)
      assertEchoesWereScrubbed(capture)
      capture.assertNoSecret()
      consoleCapture.assertNoSecret()
    }), { timeout: 20_000 })

  it.live("facade: events, callbacks, thrown errors and console output", () =>
    Effect.gen(function*() {
      const capture = new Capture()
      const collector = yield* Collector.make({ writeKey })
      yield* collector.script(echoes)
      console.log("probe: the console capture works")

      const events = [
        "identify",
        "track",
        "page",
        "screen",
        "group",
        "alias",
        "error",
        "http_request",
        "http_response",
        "call_after_close",
        "drained"
      ] as const
      const run = (options: Record<string, unknown>, calls: (analytics: Analytics) => void, flush = true) =>
        Effect.promise(async () => {
          const analytics = new Analytics({ writeKey, host: collector.url, ...options })
          for (const event of events) {
            analytics.on(event, (...args: Array<unknown>) => capture.add(`event ${event}`, args))
          }
          calls(analytics)
          if (flush) await analytics.flush()
          await analytics.closeAndFlush({ timeout: 100 }, (err) => capture.add("closeAndFlush callback", err))
          analytics.track({ userId: "u", event: "after_close" }, (err, ctx) => capture.add("late callback", [err, ctx]))
          await new Promise((resolve) => setImmediate(resolve))
        })
      const track = (analytics: Analytics, params: unknown) => {
        try {
          analytics.track(params as never, (err, ctx) => {
            capture.add("callback error", err)
            capture.add("callback ctx", [ctx, ctx?.failedDelivery(), ctx?.toJSON()])
          })
        } catch (error) {
          capture.add("thrown", error)
        }
      }

      yield* run(faultOptions, (analytics) => {
        for (let i = 0; i < 12; i++) track(analytics, { userId: "u", event: `fault_${i}` })
        track(analytics, { userId: "u", event: "" })
        track(analytics, { userId: "u", event: "big", properties: { pad: "x".repeat(MAX_MESSAGE_BYTES) } })
      })
      yield* collector.down
      yield* run({ maxRetries: 0, flushInterval: 10 }, (analytics) => {
        for (let i = 0; i < 3; i++) track(analytics, { userId: "u", event: `refused_${i}` })
      })
      yield* collector.up
      yield* collector.script([Collector.Answer.hang])
      yield* run(
        { httpRequestTimeout: 10_000 },
        (analytics) => track(analytics, { userId: "u", event: "abandoned" }),
        false // straight to a close that gives up on the hung request
      )

      try {
        const analytics = new Analytics({ writeKey: ` ${writeKey} ` })
        assert.fail(`a key with spaces was accepted (${analytics.VERSION})`)
      } catch (error) {
        capture.add("constructor", error)
      }
      assert.strictEqual(capture.items.at(-1)?.where, "constructor")

      assert.isTrue(consoleCapture.items.some((i) => String(i.value).includes("probe: the console capture works")))
      const errors = capture.items.flatMap((i) =>
        i.value instanceof Error ? [i.value] : Array.isArray(i.value) ? i.value.filter((v) => v instanceof Error) : []
      )
      const tags = new Set(errors.map((e) => (e as { reason?: { _tag: string } }).reason?._tag ?? e.name))
      for (
        const tag of ["HttpError", "TransportError", "FlushTimeout", "QueueFull", "MessageTooLarge", "ClientClosed"]
      ) {
        assert.isTrue(tags.has(tag), `a ${tag} was captured`)
      }
      assert.isTrue(tags.has("ValidationError"), "the thrown ValidationError was captured")
      const eventNames = new Set(capture.items.map((i) => i.where))
      for (
        const event of ["event error", "event http_request", "event http_response", "event track", "event drained"]
      ) {
        assert.isTrue(eventNames.has(event), event)
      }
      for (const error of errors) capture.add("error", error)
      assertEchoesWereScrubbed(capture)
      capture.assertNoSecret()
      consoleCapture.assertNoSecret()
    }), { timeout: 20_000 })
})
