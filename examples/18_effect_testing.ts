/**
 * Testing your own code: provide `AnalyticsClient.layerTest` instead of the real layer. Calls are validated and
 * encoded exactly as by the real client (time from `Clock`, ids from `Random`), then recorded in memory: read them
 * with `AnalyticsRecorder`. Nothing is sent, so this example sends nothing to the collector.
 *
 * `TestClock` drives time: here a trial reminder scheduled 7 days out runs at once. This file runs its tests with
 * `node:test` (`node examples/18_effect_testing.ts`); docs/testing.md shows the same tests with `@effect/vitest`,
 * where `it.effect` provides the `TestClock` itself.
 */
import { Effect, Fiber, Layer, Random } from "effect"
import { TestClock } from "effect/testing"
import assert from "node:assert/strict"
import { describe, it } from "node:test"
// In your project: import { AnalyticsClient } from "cdp-analytics-effect"
import { AnalyticsClient } from "../src/index.ts"

// ---- Your code -------------------------------------------------------------------------------------------------

const signUp = Effect.fn("signUp")(function*(email: string) {
  const analytics = yield* AnalyticsClient.AnalyticsClient
  const userId = `user-${email.split("@")[0]}`
  yield* analytics.identify({ userId, traits: { email } })
  yield* analytics.track({ userId, event: "Signed Up" })
  return userId
})

const startTrial = Effect.fn("startTrial")(function*(userId: string) {
  const analytics = yield* AnalyticsClient.AnalyticsClient
  yield* analytics.track({ userId, event: "Trial Started", properties: { days: 7 } })
  yield* Effect.sleep("7 days")
  yield* analytics.track({ userId, event: "Trial Reminder Sent" })
})

// ---- Its tests -------------------------------------------------------------------------------------------------

// The recording client on a TestClock (time starts at 0 and moves only when told), and a seeded Random so message
// ids repeat from run to run. `provideMerge`: the test itself uses the same TestClock.
const TestLive = AnalyticsClient.layerTest.pipe(Layer.provideMerge(TestClock.layer()))

type TestServices = AnalyticsClient.AnalyticsClient | AnalyticsClient.AnalyticsRecorder
const runTest = <A, E>(effect: Effect.Effect<A, E, TestServices>): Promise<A> =>
  effect.pipe(Effect.provide(TestLive), Random.withSeed("tests"), Effect.runPromise)

describe("signUp", () => {
  it("identifies the person, then tracks the sign-up", () =>
    runTest(Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 15, 9))
      const userId = yield* signUp("ada@example.com")

      const recorder = yield* AnalyticsClient.AnalyticsRecorder
      const messages = yield* recorder.messages
      assert.deepEqual(messages.map((m) => [m.type, m.userId, m.event]), [
        ["identify", userId, undefined],
        ["track", userId, "Signed Up"]
      ])
      assert.deepEqual(messages[0]?.traits, { email: "ada@example.com" })
      assert.equal(messages[1]?.timestamp, "2026-01-15T09:00:00.000Z")
    })))

  it("refuses an invalid call with a typed error, and records nothing", () =>
    runTest(Effect.gen(function*() {
      const analytics = yield* AnalyticsClient.AnalyticsClient
      const error = yield* Effect.flip(analytics.track({ userId: "u1", event: "" }))
      assert.equal(error.reason._tag, "ValidationError")
      assert.equal(error.message, `track: "event" must be a non-empty string`)
      assert.deepEqual(yield* (yield* AnalyticsClient.AnalyticsRecorder).messages, [])
    })))
})

describe("startTrial", () => {
  it("sends the reminder 7 days later, without waiting 7 days", () =>
    runTest(Effect.gen(function*() {
      yield* TestClock.setTime(Date.UTC(2026, 0, 15))
      const trial = yield* Effect.forkChild(startTrial("user-ada"))
      yield* TestClock.adjust("7 days")
      yield* Fiber.join(trial)

      const messages = yield* (yield* AnalyticsClient.AnalyticsRecorder).messages
      assert.deepEqual(messages.map((m) => [m.event, m.timestamp]), [
        ["Trial Started", "2026-01-15T00:00:00.000Z"],
        ["Trial Reminder Sent", "2026-01-22T00:00:00.000Z"]
      ])
    })))
})
