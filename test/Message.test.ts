import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { MessageTooLarge, ValidationError } from "../src/AnalyticsError.ts"
import * as FastDecoder from "../src/internal/fastDecoder.ts"
import { libraryName, libraryVersion } from "../src/internal/version.ts"
import * as Message from "../src/Message.ts"

const NOW = Date.UTC(2024, 0, 2, 3, 4, 5, 678)
const NOW_ISO = "2024-01-02T03:04:05.678Z"
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const encode = Message.makeEncoder({ now: () => NOW, uuid: () => "00000000-0000-4000-8000-000000000000" })

const ok = (type: Message.CallType, params: unknown): Message.Encoded => {
  const result = encode(type, params)
  if (Result.isFailure(result)) assert.fail(`expected success, got ${result.failure.message}`)
  return result.success
}

const wire = (type: Message.CallType, params: unknown) => JSON.parse(ok(type, params).json)

const rejected = (type: Message.CallType, params: unknown): ValidationError | MessageTooLarge => {
  const result = encode(type, params)
  if (Result.isSuccess(result)) assert.fail(`expected a failure, got ${result.success.json}`)
  return result.failure
}

const assertInvalid = (type: Message.CallType, params: unknown, field: string, rule: string) => {
  const error = rejected(type, params)
  assert.instanceOf(error, ValidationError)
  assert.deepStrictEqual({ call: error.call, field: error.field, rule: error.rule }, { call: type, field, rule })
}

const deepFreeze = <A>(value: A): A => {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}

const nested = (levels: number): Record<string, unknown> => {
  let value: Record<string, unknown> = { leaf: true }
  for (let i = 1; i < levels; i++) value = { a: value }
  return value
}

// The encoder takes a fast path for plainly valid params; the Schema must accept and decode exactly the same.
const assertAgreesWithSchema = (type: Message.CallType, params: unknown) => {
  const decoded = Schema.decodeUnknownResult(Message.schemas[type])(params)
  const encoded = encode(type, params)
  const label = `${type} ${String(JSON.stringify(params, (_, v) => typeof v === "bigint" ? `${v}n` : v))}`
  assert.strictEqual(Result.isSuccess(encoded), Result.isSuccess(decoded), label)
  if (Result.isFailure(decoded) && Result.isFailure(encoded)) {
    assert.instanceOf(encoded.failure, ValidationError, label)
  }
  if (Result.isSuccess(decoded) && Result.isSuccess(encoded)) {
    const { library: _, ...context } = encoded.success.message.context
    const actual: Record<string, unknown> = JSON.parse(JSON.stringify({ ...encoded.success.message, context }))
    const expected: Record<string, unknown> = JSON.parse(JSON.stringify(decoded.success))
    for (const key of Object.keys(expected)) assert.deepStrictEqual(actual[key], expected[key], `${label}: ${key}`)
  }
}

const Loose = Schema.Union([Schema.String, Schema.Number, Schema.Boolean, Schema.Null, Schema.Undefined])
const OftenValid = (valid: ReadonlyArray<string | number>) =>
  Schema.optional(Schema.Union([Schema.Literals(valid), Loose]))

// Params shaped like a call, with every field sometimes right, sometimes wrong, sometimes absent.
const GeneratedParams = Schema.Struct({
  userId: OftenValid(["u1", 42]),
  anonymousId: OftenValid(["a1", 0]),
  groupId: OftenValid(["g1", 7]),
  previousId: OftenValid(["p1", 9]),
  event: OftenValid(["Order Completed"]),
  name: OftenValid(["Home"]),
  category: OftenValid(["Docs"]),
  messageId: OftenValid(["m-1"]),
  timestamp: OftenValid([
    "2020-01-01",
    "2020-01-01T10:00:00+02:00",
    "2020-01-01T10:00",
    "2020-01-01T10:00:00.000Z",
    "2020-02-30T10:00:00.000Z"
  ]),
  properties: Schema.optional(Schema.Union([Schema.JsonObject, Loose])),
  traits: Schema.optional(Schema.Union([Schema.JsonObject, Loose])),
  context: Schema.optional(Schema.Union([Schema.JsonObject, Loose])),
  integrations: Schema.optional(
    Schema.Union([Schema.Record(Schema.String, Schema.Union([Schema.Boolean, Schema.JsonObject, Loose])), Loose])
  )
})

// JSON has no -0: it is sent (and comes back) as 0.
const positiveZero = (value: unknown): unknown =>
  Object.is(value, -0)
    ? 0
    : Array.isArray(value)
    ? value.map(positiveZero)
    : typeof value === "object" && value !== null
    ? Object.fromEntries(Object.entries(value).map(([k, v]) => [k, positiveZero(v)]))
    : value

// [1, <hole>, 3]: a missing item is what JSON.stringify turns into null
const sparse: Array<number> = [1]
sparse[2] = 3

const ID_RULE = "must be a non-empty string or a finite number"
const IDENTITY_RULE = "or \"anonymousId\" is required"

describe("Message", () => {
  describe("wire message", () => {
    it("carries type, ids, a generated messageId and timestamp, empty integrations and properties, library and metadata", () => {
      const message = wire("track", { userId: "u1", event: "Signed Up" })
      assert.deepStrictEqual(message, {
        type: "track",
        messageId: "00000000-0000-4000-8000-000000000000",
        timestamp: NOW_ISO,
        userId: "u1",
        event: "Signed Up",
        properties: {},
        integrations: {},
        context: { library: { name: libraryName, version: libraryVersion } },
        _metadata: { nodeVersion: process.versions.node, jsRuntime: "node" }
      })
    })

    it("encodes the message once: json is the message, bytes its UTF-8 length", () => {
      const encoded = ok("identify", { anonymousId: "a", traits: { name: "Zoë" } })
      assert.strictEqual(encoded.json, JSON.stringify(encoded.message))
      assert.strictEqual(encoded.bytes, Buffer.byteLength(encoded.json, "utf8"))
    })

    it("sends numeric ids as decimal strings", () => {
      assert.deepInclude(wire("identify", { userId: 42, anonymousId: 7.5 }), { userId: "42", anonymousId: "7.5" })
      assert.deepInclude(wire("group", { userId: 0, groupId: 1234567890123 }), {
        userId: "0",
        groupId: "1234567890123"
      })
      assert.deepInclude(wire("alias", { previousId: 1e21, userId: -3 }), {
        previousId: "1000000000000000000000",
        userId: "-3"
      })
    })

    it("sends every call's own fields and drops unknown keys", () => {
      assert.deepInclude(wire("identify", { userId: "u", traits: { plan: "pro" }, type: "track", extra: 1 }), {
        type: "identify",
        traits: { plan: "pro" }
      })
      assert.notProperty(wire("identify", { userId: "u", extra: 1 }), "extra")
      assert.deepInclude(wire("screen", { anonymousId: "a", name: "Home", properties: { tab: 2 } }), {
        type: "screen",
        name: "Home",
        properties: { tab: 2 }
      })
      assert.deepInclude(wire("group", { groupId: "acme", traits: { objectTypeId: 2, name: "Acme" } }), {
        type: "group",
        groupId: "acme",
        traits: { objectTypeId: 2, name: "Acme" }
      })
      assert.deepInclude(wire("alias", { previousId: "anon-1", userId: "u" }), {
        type: "alias",
        previousId: "anon-1",
        userId: "u"
      })
    })

    it("copies page category into properties.category, in a new object", () => {
      const properties = { path: "/pricing" }
      const params = { userId: "u", name: "Pricing", category: "Docs", properties }
      assert.deepInclude(wire("page", params), {
        name: "Pricing",
        category: "Docs",
        properties: { path: "/pricing", category: "Docs" }
      })
      assert.deepStrictEqual(properties, { path: "/pricing" })
      assert.deepInclude(wire("page", { userId: "u", category: "Docs" }), { properties: { category: "Docs" } })
      assert.deepInclude(wire("page", { userId: "u", name: "Home" }), { properties: {} })
    })

    it("sends an empty object for properties (track, page, screen) and traits (identify, group) left out", () => {
      // As @customerio/cdp-analytics-node does (test/parity.test.ts compares the two on the wire).
      assert.deepInclude(wire("track", { userId: "u", event: "e" }), { properties: {} })
      assert.deepInclude(wire("screen", { userId: "u" }), { properties: {} })
      assert.deepInclude(wire("identify", { userId: "u" }), { traits: {} })
      assert.deepInclude(wire("group", { groupId: "g" }), { traits: {} })
      const alias = wire("alias", { previousId: "a", userId: "u" })
      assert.notProperty(alias, "properties")
      assert.notProperty(alias, "traits")
      // Each message has its own: changing one changes no other.
      const first = wire("track", { userId: "u", event: "e" })
      assert.notStrictEqual(first.properties, wire("track", { userId: "u", event: "e" }).properties)
    })

    it("sends screen's category top-level, without copying it into properties", () => {
      const properties = { size: "xl" }
      const message = wire("screen", { userId: "u", name: "Cart", category: "Shop", properties })
      assert.strictEqual(message.category, "Shop")
      assert.deepStrictEqual(message.properties, { size: "xl" })
      assert.deepInclude(wire("screen", { userId: "u", category: "Shop" }), { properties: {} })
      assertAgreesWithSchema("screen", { userId: "u", name: "Cart", category: "Shop", properties })
    })

    it("keeps the caller's context (context.ip passes through) and sets context.library, ours winning", () => {
      const message = wire("identify", {
        userId: "u",
        context: { ip: "203.0.113.7", locale: "de-DE", library: { name: "spoof", version: "9" } }
      })
      assert.deepStrictEqual(message.context, {
        ip: "203.0.113.7",
        locale: "de-DE",
        library: { name: libraryName, version: libraryVersion }
      })
    })

    it("passes integrations through verbatim, All: false included", () => {
      const integrations = { All: false, Mixpanel: true, "Google Analytics": { clientId: "c-1" } }
      assert.deepStrictEqual(wire("track", { userId: "u", event: "e", integrations }).integrations, integrations)
    })

    it("sends a Date or ISO-8601 timestamp as an ISO string", () => {
      const at = (timestamp: unknown) => wire("track", { userId: "u", event: "e", timestamp }).timestamp
      assert.strictEqual(at(new Date(Date.UTC(2020, 5, 1, 12))), "2020-06-01T12:00:00.000Z")
      assert.strictEqual(at("2020-06-01T12:00:00.000Z"), "2020-06-01T12:00:00.000Z")
      assert.strictEqual(at("2020-06-01T14:00:00+02:00"), "2020-06-01T12:00:00.000Z")
      assert.strictEqual(at("2020-06-01"), "2020-06-01T00:00:00.000Z")
      // no offset: read as UTC whatever the host's time zone
      assert.strictEqual(at("2020-06-01T12:00"), "2020-06-01T12:00:00.000Z")
      assert.strictEqual(at("2024-02-29T23:59:59.123456Z"), "2024-02-29T23:59:59.123Z")
    })

    it("keeps a given messageId, else generates a v4 UUID", () => {
      assert.strictEqual(wire("track", { userId: "u", event: "e", messageId: "m-1" }).messageId, "m-1")
      const random = Effect.runSync(Random.withSeed(Random.Random, "ids"))
      const withUuids = Message.makeEncoder({ now: () => NOW, uuid: () => Message.uuidV4(random) })
      const first = withUuids("track", { userId: "u", event: "e" })
      const second = withUuids("track", { userId: "u", event: "e" })
      assert.isTrue(Result.isSuccess(first) && Result.isSuccess(second))
      if (Result.isSuccess(first) && Result.isSuccess(second)) {
        assert.match(first.success.message.messageId, UUID_V4)
        assert.notStrictEqual(first.success.message.messageId, second.success.message.messageId)
      }
    })

    it("sends what JSON.stringify makes of the values: Dates as ISO, undefined omitted, toJSON results", () => {
      const money = { toJSON: () => ({ amount: 5, currency: "EUR" }) }
      const properties = { at: new Date(0), gone: undefined, price: money, list: [new Date(1000)], nil: null }
      assert.deepStrictEqual(wire("track", { userId: "u", event: "e", properties }).properties, {
        at: "1970-01-01T00:00:00.000Z",
        price: { amount: 5, currency: "EUR" },
        list: ["1970-01-01T00:00:01.000Z"],
        nil: null
      })
    })

    it("accepts the same object reused in two places (a DAG is not a cycle)", () => {
      const address = { city: "Berlin" }
      assert.deepStrictEqual(wire("identify", { userId: "u", traits: { home: address, work: address } }).traits, {
        home: { city: "Berlin" },
        work: { city: "Berlin" }
      })
    })

    it("accepts objects without a prototype and optional fields given as undefined", () => {
      const traits = Object.assign(Object.create(null), { a: 1 })
      const message = wire("identify", { userId: "u", anonymousId: undefined, traits, context: undefined })
      assert.deepStrictEqual(message.traits, { a: 1 })
      assert.notProperty(message, "anonymousId")
    })

    it("never mutates the caller's objects", () => {
      const params = deepFreeze({
        userId: 1,
        name: "Pricing",
        category: "Docs",
        properties: { path: "/pricing", tags: ["a", "b"], nested: { at: "x" } },
        context: { ip: "203.0.113.7", page: { url: "https://example.com" } },
        integrations: { All: false, Segment: { apiKey: "k" } },
        timestamp: "2020-06-01T12:00:00Z"
      })
      const snapshot = structuredClone(params)
      ok("page", params)
      ok("track", { ...params, event: "e" })
      ok("identify", { ...params, traits: params.properties })
      assert.deepStrictEqual(params, snapshot)
    })
  })

  describe("validation", () => {
    it("valid params take the fast path; only what it cannot vouch for reaches the Schema parser", () => {
      const before = FastDecoder.slowPath.count
      for (const type of Message.callTypes) {
        ok(type, { userId: 1, anonymousId: "a", groupId: "g", previousId: "p", event: "e", name: "n", category: "c" })
      }
      ok("track", { userId: "u", event: "e", properties: { at: new Date(0), list: [1, "two", null] }, timestamp: null })
      assert.strictEqual(FastDecoder.slowPath.count, before, "six valid calls, none on the slow path")
      rejected("track", { userId: "u", event: "" })
      rejected("identify", { userId: "u", traits: { n: Number.NaN } })
      assert.strictEqual(FastDecoder.slowPath.count, before + 2, "each invalid call went to the parser for its error")
    })

    it("names the call, the field and the rule in the message", () => {
      assert.strictEqual(
        rejected("track", { userId: "u", event: "e", properties: { total: NaN } }).message,
        "track: \"properties.total\" must be a JSON number, got NaN"
      )
      assert.strictEqual(rejected("track", null).message, "track: params must be an object")
    })

    it("requires params to be an object", () => {
      for (const params of [null, undefined, "x", 42, [], true]) {
        assertInvalid("track", params, "", "params must be an object")
      }
    })

    it("requires a non-empty event name", () => {
      assertInvalid("track", { userId: "u" }, "event", "is required")
      assertInvalid("track", { userId: "u", event: "" }, "event", "must be a non-empty string")
      assertInvalid("track", { userId: "u", event: 42 }, "event", "must be a non-empty string")
      assertInvalid("track", { userId: "u", event: undefined }, "event", "must be a non-empty string")
    })

    it("requires userId or anonymousId on identify, track, page and screen", () => {
      assertInvalid("identify", {}, "userId", IDENTITY_RULE)
      assertInvalid("track", { event: "e" }, "userId", IDENTITY_RULE)
      assertInvalid("page", { name: "Home", userId: undefined }, "userId", IDENTITY_RULE)
      assertInvalid("screen", { name: "Home" }, "userId", IDENTITY_RULE)
      assert.strictEqual(wire("track", { anonymousId: "a", event: "e" }).anonymousId, "a")
    })

    it("requires groupId on group, previousId and userId on alias", () => {
      assertInvalid("group", { userId: "u" }, "groupId", "is required")
      assertInvalid("group", { groupId: {} }, "groupId", ID_RULE)
      assertInvalid("alias", { userId: "u" }, "previousId", "is required")
      assertInvalid("alias", { previousId: "p" }, "userId", "is required")
      assertInvalid("alias", { previousId: "p", anonymousId: "a" }, "userId", "is required")
      assert.strictEqual(wire("group", { groupId: "g" }).groupId, "g")
    })

    it("accepts ids that are non-empty strings or finite numbers only", () => {
      for (const id of ["", NaN, Infinity, -Infinity, true, {}, ["u"], 10n]) {
        assertInvalid("identify", { userId: id }, "userId", ID_RULE)
        assertInvalid("identify", { userId: "u", anonymousId: id }, "anonymousId", ID_RULE)
      }
      assertInvalid("alias", { previousId: NaN, userId: "u" }, "previousId", ID_RULE)
      // null is "absent" (see below): where an id is required it is still refused
      assertInvalid("alias", { previousId: null, userId: "u" }, "previousId", ID_RULE)
      assertInvalid("group", { groupId: null }, "groupId", ID_RULE)
    })

    it("requires messageId to be a non-empty string and name/category to be strings", () => {
      assertInvalid("track", { userId: "u", event: "e", messageId: "" }, "messageId", "must be a non-empty string")
      assertInvalid("track", { userId: "u", event: "e", messageId: 5 }, "messageId", "must be a non-empty string")
      assertInvalid("page", { userId: "u", name: 5 }, "name", "must be a string")
      assertInvalid("page", { userId: "u", category: ["Docs"] }, "category", "must be a string")
      assertInvalid("screen", { userId: "u", name: 5 }, "name", "must be a string")
      assertInvalid("screen", { userId: "u", category: false }, "category", "must be a string")
    })

    it("treats null in an optional top-level field as absent, as Segment's runtime does", () => {
      const absent = {
        anonymousId: null,
        traits: null,
        properties: null,
        context: null,
        integrations: null,
        timestamp: null,
        messageId: null,
        name: null,
        category: null
      }
      const message = wire("page", { userId: "u", ...absent })
      assert.deepStrictEqual(Object.keys(message).toSorted(), [
        "_metadata",
        "context",
        "integrations",
        "messageId",
        "properties",
        "timestamp",
        "type",
        "userId"
      ])
      assert.strictEqual(message.timestamp, NOW_ISO) // generated, not null
      assert.deepStrictEqual(message.integrations, {})
      assert.strictEqual(wire("track", { userId: null, anonymousId: "a", event: "e" }).anonymousId, "a")
      assert.notProperty(wire("identify", { userId: "u", anonymousId: null }), "anonymousId")
      for (const type of Message.callTypes) assertAgreesWithSchema(type, { userId: "u", groupId: "g", ...absent })
    })

    it("still refuses null where the field is required", () => {
      assertInvalid("identify", { userId: null }, "userId", IDENTITY_RULE)
      assertInvalid("track", { userId: null, anonymousId: null, event: "e" }, "userId", IDENTITY_RULE)
      assertInvalid("track", { userId: "u", event: null }, "event", "must be a non-empty string")
      assertInvalid("alias", { previousId: "p", userId: null }, "userId", ID_RULE)
      assertInvalid("group", { userId: "u", groupId: null }, "groupId", ID_RULE)
    })

    it("requires a valid Date or ISO-8601 string as timestamp", () => {
      const rule = "must be an ISO-8601 date string or a Date"
      for (
        const timestamp of ["yesterday", "2024-02-30", "2023-02-29", "2024-13-01", "2024-01-01T24:00", 1700000000000]
      ) {
        assertInvalid("track", { userId: "u", event: "e", timestamp }, "timestamp", rule)
      }
      assertInvalid("track", { userId: "u", event: "e", timestamp: new Date(NaN) }, "timestamp", "must be a valid date")
    })

    it("requires properties, traits and context to be plain objects", () => {
      class Order {
        id = 1
      }
      for (const value of [42, "x", [], new Map(), new Order(), new Date(0)]) {
        assertInvalid("track", { userId: "u", event: "e", properties: value }, "properties", "must be a plain object")
        assertInvalid("identify", { userId: "u", traits: value }, "traits", "must be a plain object")
        assertInvalid("identify", { userId: "u", context: value }, "context", "must be a plain object")
      }
    })

    it("refuses values JSON cannot carry, naming their path", () => {
      const track = (properties: unknown) => ({ userId: "u", event: "e", properties })
      assertInvalid("track", track({ total: NaN }), "properties.total", "must be a JSON number, got NaN")
      assertInvalid("track", track({ total: Infinity }), "properties.total", "must be a JSON number, got Infinity")
      assertInvalid("track", track({ a: { b: -Infinity } }), "properties.a.b", "must be a JSON number, got -Infinity")
      assertInvalid("track", track({ f: () => 1 }), "properties.f", "must be a JSON value, got a function")
      assertInvalid("track", track({ s: Symbol("s") }), "properties.s", "must be a JSON value, got a symbol")
      assertInvalid("track", track({ n: 1n }), "properties.n", "must be a JSON value, got a bigint")
      assertInvalid(
        "identify",
        { userId: "u", traits: { tags: ["a", "b", undefined] } },
        "traits.tags.2",
        "must be a JSON value, got undefined"
      )
      assertInvalid(
        "identify",
        { userId: "u", traits: { tags: sparse } },
        "traits.tags.1",
        "must be a JSON value, got undefined"
      )
      assertInvalid(
        "identify",
        { userId: "u", context: { ip: () => "x" } },
        "context.ip",
        "must be a JSON value, got a function"
      )
    })

    it("refuses invalid dates inside values", () => {
      assertInvalid(
        "track",
        { userId: "u", event: "e", properties: { at: new Date("nope") } },
        "properties.at",
        "must be a valid date"
      )
    })

    it("refuses circular references, but not shared objects", () => {
      const order: Record<string, unknown> = { id: 1 }
      order.self = order
      assertInvalid(
        "track",
        { userId: "u", event: "e", properties: { order } },
        "properties.order.self",
        "is a circular reference"
      )
      const list: Array<unknown> = [1]
      list.push(list)
      assertInvalid("identify", { userId: "u", traits: { list } }, "traits.list.1", "is a circular reference")
      const root: Record<string, unknown> = {}
      root.back = root
      assertInvalid("identify", { userId: "u", traits: root }, "traits.back", "is a circular reference")
    })

    it("refuses an own __proto__ key (prototype pollution)", () => {
      const rule = "is not allowed as a key (prototype pollution)"
      assertInvalid(
        "track",
        { userId: "u", event: "e", properties: JSON.parse("{\"__proto__\":{\"admin\":true}}") },
        "properties.__proto__",
        rule
      )
      assertInvalid(
        "identify",
        { userId: "u", traits: { a: [JSON.parse("{\"__proto__\":1}")] } },
        "traits.a.0.__proto__",
        rule
      )
      assertInvalid(
        "track",
        { userId: "u", event: "e", integrations: JSON.parse("{\"__proto__\":true}") },
        "integrations.__proto__",
        rule
      )
    })

    it("refuses Map, Set and class instances without toJSON, and validates what toJSON returns", () => {
      class Point {
        x = 1
      }
      class Money {
        amount: number
        constructor(amount: number) {
          this.amount = amount
        }
        toJSON() {
          return { amount: this.amount }
        }
      }
      const track = (properties: unknown) => ({ userId: "u", event: "e", properties })
      assertInvalid("track", track({ m: new Map([["a", 1]]) }), "properties.m", "must be a plain object")
      assertInvalid("track", track({ s: new Set([1]) }), "properties.s", "must be a plain object")
      assertInvalid("track", track({ p: new Point() }), "properties.p", "must be a plain object")
      assertInvalid(
        "track",
        track({ price: new Money(NaN) }),
        "properties.price.amount",
        "must be a JSON number, got NaN"
      )
      assert.deepStrictEqual(wire("track", track({ price: new Money(5) })).properties, { price: { amount: 5 } })
    })

    it("refuses values nested deeper than 64 levels", () => {
      assert.deepStrictEqual(wire("identify", { userId: "u", traits: nested(64) }).traits, nested(64))
      const field = ["traits", ...Array.from({ length: 64 }, () => "a")].join(".")
      assertInvalid("identify", { userId: "u", traits: nested(65) }, field, "nests deeper than 64 levels")
    })

    it("requires integrations to be an object of booleans or plain objects", () => {
      const track = (integrations: unknown) => ({ userId: "u", event: "e", integrations })
      assertInvalid("track", track("all"), "integrations", "must be a plain object")
      assertInvalid("track", track({ Mixpanel: 1 }), "integrations.Mixpanel", "must be a boolean or a plain object")
      assertInvalid(
        "track",
        track({ Mixpanel: [true] }),
        "integrations.Mixpanel",
        "must be a boolean or a plain object"
      )
      assertInvalid("track", track({ GA: { rate: NaN } }), "integrations.GA.rate", "must be a JSON number, got NaN")
    })

    it("reports a throwing getter as unreadable instead of throwing", () => {
      const traits = {
        get plan(): string {
          throw new Error("boom")
        }
      }
      assertInvalid("identify", { userId: "u", traits }, "traits.plan", "could not be read: boom")
      const params = {
        get userId(): string {
          throw new Error("bad params")
        }
      }
      assertInvalid("identify", params, "", "params could not be read: bad params")
    })

    it("agrees with the call's Schema on what is valid and what it decodes to", () => {
      const cases: ReadonlyArray<readonly [Message.CallType, unknown]> = [
        ["track", { userId: 5, event: "e", properties: { a: [1, { b: new Date(0) }] }, timestamp: "2020-01-01" }],
        ["track", { anonymousId: "a", event: "e", context: { ip: "1.1.1.1" }, integrations: { All: false } }],
        ["track", { userId: "u", event: "" }],
        ["track", { event: "e" }],
        ["identify", { userId: "u", traits: { n: NaN } }],
        ["identify", { anonymousId: 0, messageId: "m", timestamp: new Date(5) }],
        ["page", { userId: "u", category: "c", properties: { x: 1 } }],
        ["page", { userId: "u", category: 1 }],
        ["screen", { userId: "u", name: "n" }],
        ["group", { groupId: 7, traits: { objectTypeId: 2 } }],
        ["group", { groupId: "" }],
        ["alias", { previousId: "p", userId: 3 }],
        ["alias", { previousId: "p" }]
      ]
      for (const [type, params] of cases) assertAgreesWithSchema(type, params)
    })

    it.prop(
      "agrees with the call's Schema on generated params",
      { params: GeneratedParams },
      ({ params }) => {
        for (const type of Message.callTypes) assertAgreesWithSchema(type, params)
      },
      { arbitrary: { runs: 300 } }
    )
  })

  describe("size", () => {
    const samples = [
      "plain ascii",
      "é ñ ü ß", // 2 bytes each
      "€ ✓ 日本語", // 3 bytes each
      "😀 🚀 👩‍👩‍👧", // surrogate pairs: 4 bytes each
      "\uD800", // lone high surrogate
      "\uDC00", // lone low surrogate
      "a\uDC00\uD800b", // reversed pair: two lone surrogates
      "\uD83D", // high surrogate at the end
      "mixed é€😀\uD800 end"
    ]

    it("utf8Length equals Buffer.byteLength", () => {
      for (const s of samples) assert.strictEqual(Message.utf8Length(s), Buffer.byteLength(s, "utf8"), s)
      assert.strictEqual(Message.utf8Length(""), 0)
    })

    it("utf8Length is exact for strings larger than its scratch buffer", () => {
      const big = "a€😀é".repeat(40_000) + "\uD800"
      assert.strictEqual(Message.utf8Length(big), Buffer.byteLength(big, "utf8"))
      const ascii = "x".repeat(300_000)
      assert.strictEqual(Message.utf8Length(ascii), 300_000)
    })

    it("bytes is the UTF-8 length of the json that is sent", () => {
      for (const s of samples) {
        const encoded = ok("track", { userId: "u", event: s, properties: { s, [s]: s } })
        assert.strictEqual(encoded.bytes, Buffer.byteLength(encoded.json, "utf8"), s)
      }
    })

    it("accepts a message of exactly 32 KB and refuses one byte more", () => {
      const base = ok("track", { userId: "u", event: "e", properties: { pad: "" } }).bytes
      const pad = "x".repeat(Message.MAX_MESSAGE_BYTES - base)
      const exact = ok("track", { userId: "u", event: "e", properties: { pad } })
      assert.strictEqual(exact.bytes, Message.MAX_MESSAGE_BYTES)
      const error = rejected("track", { userId: "u", event: "e", properties: { pad: pad + "x" } })
      assert.instanceOf(error, MessageTooLarge)
      assert.deepStrictEqual({ ...error }, {
        _tag: "MessageTooLarge",
        call: "track",
        size: Message.MAX_MESSAGE_BYTES + 1,
        limit: Message.MAX_MESSAGE_BYTES
      })
      assert.include(error.message, "32769")
      assert.include(error.message, "32768")
    })

    it("counts multi-byte characters against the limit in bytes, not characters", () => {
      const error = rejected("track", { userId: "u", event: "e", properties: { pad: "€".repeat(11_000) } })
      assert.instanceOf(error, MessageTooLarge)
    })

    it("exposes the API limits", () => {
      assert.strictEqual(Message.MAX_MESSAGE_BYTES, 32 * 1024)
      assert.strictEqual(Message.MAX_BATCH_BYTES, 500 * 1024)
    })
  })

  describe("uuidV4", () => {
    it("makes RFC 4122 version 4 UUIDs", () => {
      const random = Effect.runSync(Random.withSeed(Random.Random, "format"))
      const ids = new Set<string>()
      for (let i = 0; i < 1000; i++) {
        const id = Message.uuidV4(random)
        assert.match(id, UUID_V4)
        ids.add(id)
      }
      assert.strictEqual(ids.size, 1000)
    })

    it("is deterministic for a seeded Random", () => {
      const draw = (seed: string) => {
        const random = Effect.runSync(Random.withSeed(Random.Random, seed))
        return [Message.uuidV4(random), Message.uuidV4(random)]
      }
      assert.deepStrictEqual(draw("seed"), draw("seed"))
      assert.notDeepEqual(draw("seed"), draw("other"))
    })

    it("maps the random bits straight to hex", () => {
      const fixed = (value: number): Random.Random => ({ nextDoubleUnsafe: () => value, nextIntUnsafe: () => 0 })
      assert.strictEqual(Message.uuidV4(fixed(0)), "00000000-0000-4000-8000-000000000000")
      assert.strictEqual(Message.uuidV4(fixed(1 - 2 ** -53)), "ffffffff-ffff-4fff-bfff-ffffffffffff")
    })
  })

  describe("schemas", () => {
    it("has one Schema per call type", () => {
      assert.deepStrictEqual(Object.keys(Message.schemas).toSorted(), Message.callTypes.toSorted())
    })

    it("decode params into normalized calls", () => {
      assert.deepStrictEqual(
        Schema.decodeUnknownSync(Message.Track)({ userId: 7, event: "e", timestamp: new Date(0), extra: 1 }),
        { userId: "7", event: "e", timestamp: "1970-01-01T00:00:00.000Z" }
      )
      assert.deepStrictEqual(Schema.decodeUnknownSync(Message.Page)({ anonymousId: "a", category: "c" }), {
        anonymousId: "a",
        category: "c",
        properties: { category: "c" }
      })
    })
  })

  it.prop(
    "arbitrary JSON objects are sent as given",
    { properties: Schema.JsonObject },
    ({ properties }) => {
      const result = encode("track", { userId: "u", event: "e", properties })
      const hasProtoKey = JSON.stringify(properties).includes("\"__proto__\":")
      if (hasProtoKey) {
        assert.isTrue(Result.isFailure(result))
        return
      }
      if (Result.isFailure(result)) {
        // only the size limit may refuse valid JSON
        assert.instanceOf(result.failure, MessageTooLarge)
        return
      }
      assert.deepStrictEqual(JSON.parse(result.success.json).properties, positiveZero(properties))
    },
    { arbitrary: { runs: 300 } }
  )
})
