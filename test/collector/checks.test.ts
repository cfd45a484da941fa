/**
 * The inspector's checks of one message: what the API refuses, what deserves a look, and a tracking plan's verdict.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Schema from "effect/Schema"
import { type Check, checkMessage, planChecker } from "../../src/internal/collector/checks.ts"
import { MAX_MESSAGE_BYTES } from "../../src/Message.ts"
import * as TrackingPlan from "../../src/TrackingPlan.ts"

const now = Date.UTC(2026, 0, 15, 12)
const iso = (offset: number) => new Date(now + offset).toISOString()
const day = 24 * 60 * 60 * 1000

const valid = { type: "track", event: "Order Completed", userId: "u1", messageId: "m1", timestamp: iso(0) }

const check = (message: unknown, plan?: TrackingPlan.Any) =>
  checkMessage(message, Buffer.byteLength(JSON.stringify(message)), now, planChecker(plan))

const summary = (checks: ReadonlyArray<Check>) => checks.map((c) => `${c.level} ${c.rule}: ${c.message}`)

describe("checkMessage", () => {
  it("passes a well-formed message of each type", () => {
    for (
      const message of [
        valid,
        { type: "identify", anonymousId: "a1", messageId: "m2", timestamp: iso(0), traits: {} },
        { type: "page", userId: "u1", name: "Home", messageId: "m3", timestamp: iso(0) },
        { type: "screen", userId: "u1", messageId: "m4", timestamp: iso(0) },
        { type: "group", groupId: "g1", messageId: "m5", timestamp: iso(0) },
        { type: "alias", userId: "u2", previousId: "u1", messageId: "m6", timestamp: iso(0) }
      ]
    ) {
      assert.deepStrictEqual(check(message), [], message.type)
    }
  })

  it("errors on what the API refuses: shape, required fields, ids, size, a timestamp that is no date", () => {
    assert.deepStrictEqual(summary(check("text")), ["error shape: not a JSON object"])
    assert.deepStrictEqual(summary(check({ ...valid, type: "purchase" })), [
      "error shape: unknown type \"purchase\": the API takes identify, track, page, screen, group, alias"
    ])
    assert.deepStrictEqual(summary(check({ ...valid, userId: undefined, event: "" })), [
      "error required: track needs \"userId\" or \"anonymousId\"",
      "error required: track needs \"event\", a non-empty string"
    ])
    assert.deepStrictEqual(summary(check({ type: "group", messageId: "m", timestamp: iso(0) })), [
      "error required: group needs \"groupId\""
    ])
    assert.deepStrictEqual(summary(check({ type: "alias", userId: "u", messageId: "m", timestamp: iso(0) })), [
      "error required: alias needs \"previousId\""
    ])
    assert.deepStrictEqual(summary(check({ ...valid, userId: { id: 1 }, messageId: 7 })), [
      "error id: \"userId\" must be a string",
      "error id: \"messageId\" must be a non-empty string"
    ])
    assert.deepStrictEqual(summary(check({ ...valid, properties: [1] })), [
      "error shape: \"properties\" must be an object"
    ])
    assert.deepStrictEqual(summary(check({ ...valid, timestamp: "yesterday" })), [
      "error timestamp: \"timestamp\" is not an ISO-8601 date"
    ])
    const big = { ...valid, properties: { filler: "x".repeat(MAX_MESSAGE_BYTES) } }
    const [size] = check(big)
    assert.strictEqual(size?.rule, "size")
    assert.match(size?.message ?? "", /^\d+ bytes, over the 32768-byte \(32 KB\) limit of one message$/)
  })

  it("warns about what the API takes but is likely a mistake: far timestamps, no messageId, numeric ids", () => {
    assert.deepStrictEqual(summary(check({ ...valid, timestamp: iso(2 * day) })), [
      "warning timestamp: \"timestamp\" is 2 days in the future"
    ])
    assert.deepStrictEqual(summary(check({ ...valid, timestamp: iso(-40 * day) })), [
      "warning timestamp: \"timestamp\" is 40 days in the past (right for a backfill only)"
    ])
    // Within a day ahead (clock skew) and 30 days back: fine.
    assert.deepStrictEqual(check({ ...valid, timestamp: iso(day - 1) }), [])
    assert.deepStrictEqual(check({ ...valid, timestamp: iso(-30 * day) }), [])
    assert.deepStrictEqual(summary(check({ ...valid, timestamp: undefined, messageId: undefined, userId: 42 })), [
      "warning id: \"userId\" is a number, not a string",
      "warning id: no \"messageId\": the API cannot tell a retried copy from a new message",
      "warning timestamp: no \"timestamp\": the API stamps the message when it arrives"
    ])
  })

  it("with a tracking plan, warns about its violations, and only for messages the API would take", () => {
    const plan = TrackingPlan.make({
      events: { "Order Completed": Schema.Struct({ revenue: Schema.Number }) },
      traits: Schema.Struct({ email: Schema.String })
    })
    assert.deepStrictEqual(check({ ...valid, properties: { revenue: 42 } }, plan), [])
    const [wrong] = check({ ...valid, properties: { revenue: "42" } }, plan)
    assert.strictEqual(wrong?.level, "warning")
    assert.strictEqual(wrong?.rule, "plan")
    assert.include(wrong?.message, "properties.revenue")
    // The plan's own words, not those of a number's JSON form (which also admits "Infinity", "-Infinity", "NaN").
    assert.include(wrong?.message, "Expected number")
    assert.notInclude(wrong?.message, "Infinity")
    const [unknown] = check({ ...valid, event: "Order Complete", properties: {} }, plan)
    assert.include(unknown?.message, "is not an event of the tracking plan (did you mean \"Order Completed\"?)")
    const [traits] = check({ type: "identify", userId: "u", messageId: "m", timestamp: iso(0), traits: {} }, plan)
    assert.include(traits?.message, "traits.email")
    // A message the API refuses gets its error, not a plan verdict as well.
    assert.deepStrictEqual(summary(check({ ...valid, userId: undefined }, plan)), [
      "error required: track needs \"userId\" or \"anonymousId\""
    ])
  })
})
