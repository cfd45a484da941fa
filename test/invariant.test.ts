/**
 * The central promise, checked over interleavings rather than examples: whatever happens (calls, flushes, time,
 * answers of every kind, a close timeout that may be short), every accepted message settles exactly once, every
 * flush completes, close completes by its timeout, and nothing is left in the queue, the ledger or a fiber. With a
 * file outbox, what close gave up on is kept instead, and a second client on the directory delivers exactly that:
 * nothing settled is sent again, nothing kept is lost.
 *
 * fast-check draws a scenario: options, a script of server answers (2xx, 4xx, 5xx, 413, 429 with Retry-After,
 * hangs, resets, slow answers), and a sequence of steps; TestClock drives every wait. The same invariant then runs
 * through the Promise facade against the Collector over a real socket, for a few seeds.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Collector from "../src/Collector.ts"
import { Analytics } from "../src/index.ts"
import * as Engine from "../src/internal/engine.ts"
import * as Outbox from "../src/Outbox.ts"
import * as MockHttp from "./utils/MockHttp.ts"

type Answer =
  | { readonly kind: "status"; readonly status: number }
  | { readonly kind: "retryAfter"; readonly seconds: number }
  | { readonly kind: "hang" }
  | { readonly kind: "reset" }
  | { readonly kind: "slow"; readonly millis: number }

type Step =
  | { readonly kind: "calls"; readonly count: number; readonly size: "small" | "big" | "huge" }
  | { readonly kind: "flush" }
  | { readonly kind: "advance"; readonly millis: number }
  | { readonly kind: "caughtUp" }

/** The options a scenario draws; the rest keep their defaults. */
interface Knobs {
  readonly maxEventsInBatch: number
  readonly maxConcurrentRequests: number
  readonly maxQueueSize: number
  readonly maxRetries: number
  readonly flushInterval: number
  readonly httpRequestTimeout: number
  readonly overflow: "fail" | "suspend"
  readonly compression: "gzip" | "none"
}

interface Scenario {
  readonly options: Knobs
  readonly answers: ReadonlyArray<Answer>
  readonly steps: ReadonlyArray<Step>
  readonly closeTimeout: number
  readonly outbox: boolean
}

const answer: fc.Arbitrary<Answer> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Answer>({ kind: "status", status: 200 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom(202, 400, 401, 408, 413, 429, 500, 501, 503).map((status): Answer => ({
      kind: "status",
      status
    }))
  },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }).map((seconds): Answer => ({ kind: "retryAfter", seconds })) },
  { weight: 1, arbitrary: fc.constant<Answer>({ kind: "hang" }) },
  { weight: 1, arbitrary: fc.constant<Answer>({ kind: "reset" }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 5_000 }).map((millis): Answer => ({ kind: "slow", millis })) }
)

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("calls" as const),
      count: fc.integer({ min: 1, max: 8 }),
      // 30 KB messages cut batches by bytes; 40 KB ones are refused as too large.
      size: fc.constantFrom("small" as const, "small" as const, "big" as const, "huge" as const)
    })
  },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "flush" }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 20_000 }).map((millis): Step => ({ kind: "advance", millis })) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "caughtUp" }) }
)

const scenario: fc.Arbitrary<Scenario> = fc.record({
  options: fc.record({
    maxEventsInBatch: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(30)),
    maxConcurrentRequests: fc.integer({ min: 1, max: 3 }),
    maxQueueSize: fc.integer({ min: 2, max: 25 }),
    maxRetries: fc.integer({ min: 0, max: 3 }),
    flushInterval: fc.integer({ min: 0, max: 3_000 }),
    httpRequestTimeout: fc.integer({ min: 100, max: 3_000 }),
    overflow: fc.constantFrom("fail" as const, "suspend" as const),
    compression: fc.constantFrom("none" as const, "gzip" as const)
  }),
  answers: fc.array(answer, { maxLength: 40 }),
  steps: fc.array(step, { minLength: 1, maxLength: 25 }),
  closeTimeout: fc.integer({ min: 0, max: 30_000 }),
  outbox: fc.boolean()
})

/** What the scripted server answered to a request, with the ids it carried. */
interface Served {
  readonly ids: ReadonlyArray<string>
  readonly answer: Answer
}

const run = (s: Scenario) =>
  Effect.gen(function*() {
    const served: Array<Served> = []
    const mock = yield* MockHttp.make((request, index) => {
      const given = s.answers[index] ?? { kind: "status", status: 200 }
      served.push({ ids: request.body.batch.map((m) => m.messageId), answer: given })
      switch (given.kind) {
        case "status":
          return Effect.succeed({ status: given.status })
        case "retryAfter":
          return Effect.succeed({ status: 429, headers: { "retry-after": String(given.seconds) } })
        case "hang":
          return Effect.never
        case "reset":
          return Effect.succeed({ error: "ECONNRESET" })
        case "slow":
          return Effect.as(Effect.sleep(given.millis), { status: 200 })
      }
    })
    const outcomes = new Map<string, Array<string>>()
    const scope = yield* Scope.make()
    const dir = s.outbox ? mkdtempSync(join(tmpdir(), "invariant-")) : undefined
    const outbox = dir === undefined ? undefined : Result.getOrThrow(Outbox.file({ path: dir }))
    const engine = yield* Engine.make({
      options: { writeKey: "wk_invariant", host: "https://api.test", closeTimeout: s.closeTimeout, ...s.options },
      outbox,
      onSettled: (envelopes, error) => {
        for (const envelope of envelopes) {
          const id = envelope.message.messageId
          outcomes.set(id, [...(outcomes.get(id) ?? []), error === undefined ? "delivered" : error.reason._tag])
        }
      }
    }).pipe(Effect.provideService(HttpClient.HttpClient, mock.client), Scope.provide(scope))

    const calls: Array<Fiber.Fiber<Result.Result<string, string>>> = []
    const flushes: Array<Fiber.Fiber<void>> = []
    const earlyFlushes: Array<string> = []
    const acceptedSoFar = () =>
      calls.flatMap((call) => {
        const exit = call.pollUnsafe()
        return exit !== undefined && Exit.isSuccess(exit) && Result.isSuccess(exit.value) ? [exit.value.success] : []
      })
    let n = 0
    for (const next of s.steps) {
      switch (next.kind) {
        case "calls": {
          for (let i = 0; i < next.count; i++) {
            const properties = { n, pad: "x".repeat(next.size === "small" ? 0 : next.size === "big" ? 30_000 : 40_000) }
            const params = { userId: `u${n % 5}`, event: `e${n++}`, properties }
            // Forked: with overflow "suspend" a call may wait for room.
            calls.push(
              yield* engine.acceptEffect("track", params).pipe(
                Effect.map((accepted) => accepted.message.messageId),
                Effect.mapError((e) => e.reason._tag),
                Effect.result,
                Effect.forkChild({ startImmediately: true })
              )
            )
          }
          break
        }
        case "flush": {
          // A flush completes only once everything accepted before it is settled.
          const before = acceptedSoFar()
          const flush = Effect.andThen(
            engine.flush,
            Effect.sync(() => {
              for (const id of before) if (!outcomes.has(id)) earlyFlushes.push(id)
            })
          )
          flushes.push(yield* Effect.forkChild(flush, { startImmediately: true }))
          break
        }
        case "advance":
          yield* TestClock.adjust(next.millis)
          break
        case "caughtUp":
          yield* engine.caughtUp
          break
      }
    }
    const closing = yield* Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
    yield* TestClock.adjust(s.closeTimeout)
    assert.isDefined(closing.pollUnsafe(), "close completed by its timeout")

    // With an outbox, a second client on the directory sends what the first kept: exactly those.
    const kept = new Set<string>()
    if (outbox !== undefined) {
      const replay = yield* MockHttp.make(MockHttp.ok)
      const second = yield* Scope.make()
      const again = yield* Engine.make({ options: { writeKey: "wk_invariant", host: "https://api.test" }, outbox })
        .pipe(
          Effect.provideService(HttpClient.HttpClient, replay.client),
          Scope.provide(second)
        )
      yield* again.flush
      yield* Scope.close(second, Exit.void)
      for (const id of replay.requests.flatMap((r) => r.body.batch.map((m) => m.messageId))) {
        assert.isFalse(kept.has(id), `kept ${id} was replayed once`)
        kept.add(id)
      }
      rmSync(dir!, { recursive: true })
    }

    const accepted: Array<string> = []
    for (const call of calls) {
      assert.isDefined(call.pollUnsafe(), "every call returned")
      const outcome = yield* Fiber.join(call)
      if (Result.isFailure(outcome)) {
        assert.oneOf(outcome.failure, ["QueueFull", "ClientClosed", "MessageTooLarge"])
        continue
      }
      const id = outcome.success
      accepted.push(id)
      const reported = outcomes.get(id) ?? []
      if (outbox !== undefined) {
        // Kept at close: told FlushTimeout if it was in memory, nothing if it waited on disk; sent by the next client.
        const wasKept = reported.length === 0 || (reported.length === 1 && reported[0] === "FlushTimeout")
        assert.strictEqual(kept.has(id), wasKept, `${id}: kept and replayed, or settled for good (${reported})`)
        if (wasKept) continue
      }
      assert.strictEqual(reported.length, 1, `accepted ${id} settled once: ${reported}`)
      const carried = served.filter((r) => r.ids.includes(id))
      if (reported[0] === "delivered") {
        assert.isTrue(
          carried.some((r) => r.answer.kind === "slow" || (r.answer.kind === "status" && r.answer.status < 300)),
          "delivered: some request carrying it got a 2xx"
        )
      }
    }
    assert.isAtMost(outcomes.size, accepted.length, "no outcome for a message that was not accepted")
    if (outbox === undefined) assert.strictEqual(outcomes.size, accepted.length, "every accepted message has one")
    for (const flush of flushes) assert.isDefined(flush.pollUnsafe(), "every flush completed")
    assert.deepStrictEqual(
      earlyFlushes.filter((id) => !kept.has(id)),
      [],
      "no flush completed before what was accepted before it settled (or, with an outbox, was kept at close)"
    )
    assert.deepStrictEqual([engine.pending(), engine.queued(), engine.inFlight()], [0, 0, 0], "nothing is left")
  })

describe("every accepted message settles exactly once", () => {
  it("through the engine, over random interleavings (TestClock)", async () => {
    await fc.assert(
      fc.asyncProperty(
        scenario,
        (s) => Effect.runPromise(run(s).pipe(Effect.provide(TestClock.layer()), Effect.scoped))
      ),
      { seed: 20_261_201, numRuns: 150 }
    )
  })
})

// -----------------------------------------------------------------------------
// The Promise facade over a real socket
// -----------------------------------------------------------------------------

type RealStep =
  | { readonly kind: "calls"; readonly count: number }
  | { readonly kind: "flush" }
  | { readonly kind: "wait"; readonly millis: number }

interface RealScenario {
  // The facade has no overflow option: it always refuses when full.
  readonly options: Omit<Knobs, "overflow">
  readonly answers: ReadonlyArray<Collector.Answer>
  readonly steps: ReadonlyArray<RealStep>
  readonly closeTimeout: number
}

const realScenario: fc.Arbitrary<RealScenario> = fc.record({
  options: fc.record({
    maxEventsInBatch: fc.integer({ min: 1, max: 8 }),
    maxConcurrentRequests: fc.integer({ min: 1, max: 3 }),
    maxQueueSize: fc.integer({ min: 5, max: 40 }),
    maxRetries: fc.integer({ min: 0, max: 2 }),
    flushInterval: fc.integer({ min: 0, max: 50 }),
    httpRequestTimeout: fc.integer({ min: 50, max: 300 }),
    compression: fc.constantFrom("none" as const, "gzip" as const)
  }),
  answers: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(Collector.Answer.normal) },
      { weight: 3, arbitrary: fc.constantFrom(400, 413, 500, 503).map((status) => Collector.Answer.status(status)) },
      { weight: 1, arbitrary: fc.constant(Collector.Answer.status(429, { retryAfter: 1 })) },
      { weight: 1, arbitrary: fc.constant(Collector.Answer.hang) },
      { weight: 1, arbitrary: fc.constant(Collector.Answer.drop) },
      { weight: 1, arbitrary: fc.integer({ min: 10, max: 400 }).map((millis) => Collector.Answer.latency(millis)) }
    ),
    { maxLength: 20 }
  ),
  steps: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 15 }).map((count): RealStep => ({ kind: "calls", count })) },
      { weight: 1, arbitrary: fc.constant<RealStep>({ kind: "flush" }) },
      { weight: 2, arbitrary: fc.integer({ min: 0, max: 60 }).map((millis): RealStep => ({ kind: "wait", millis })) }
    ),
    { minLength: 1, maxLength: 12 }
  ),
  closeTimeout: fc.integer({ min: 100, max: 1_500 })
})

const runFacade = async (s: RealScenario) => {
  const collector = await Collector.start({ writeKey: "wk_invariant" })
  try {
    collector.script(s.answers)
    const analytics = new Analytics({ writeKey: "wk_invariant", host: collector.url, ...s.options })
    const callbacks: Array<Array<{ readonly id: string | undefined; readonly error: string | undefined }>> = []
    const flushes: Array<Promise<void>> = []
    for (const next of s.steps) {
      if (next.kind === "calls") {
        for (let i = 0; i < next.count; i++) {
          const seen: (typeof callbacks)[number] = []
          callbacks.push(seen)
          analytics.track(
            { userId: "u", event: `e${callbacks.length}` },
            (err, ctx) => seen.push({ id: ctx?.id, error: err?.reason._tag })
          )
        }
      } else if (next.kind === "flush") {
        flushes.push(analytics.flush())
      } else {
        await new Promise((resolve) => setTimeout(resolve, next.millis))
      }
    }
    await analytics.closeAndFlush({ timeout: s.closeTimeout })
    await Promise.all(flushes)
    // A callback of a refused call runs once the call has returned: give those their turn before counting.
    await new Promise((resolve) => setImmediate(resolve))
    const received = new Set(collector.messages().map((m) => m.messageId))
    for (const [i, seen] of callbacks.entries()) {
      assert.strictEqual(seen.length, 1, `call ${i}: ${JSON.stringify(seen)}`)
      const [{ error, id }] = seen
      if (error === undefined) assert.isTrue(received.has(id), `call ${i} was delivered, so the collector has it`)
      else assert.oneOf(error, ["QueueFull", "HttpError", "TransportError", "FlushTimeout"])
    }
  } finally {
    await collector.close()
  }
}

describe("every call's callback runs exactly once, through the facade over a real socket", () => {
  it("for a few seeds", async () => {
    await fc.assert(fc.asyncProperty(realScenario, runFacade), { seed: 7, numRuns: 6 })
  }, 120_000)
})
