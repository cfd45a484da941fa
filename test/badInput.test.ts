/**
 * Bad input, good input. Property-based (fast-check, fixed seeds so a run is repeatable): any JSON-valid call is
 * accepted and sent exactly as given, through the real encoder and through the real wire to the Collector; any
 * invalid call gets an error naming the field, queues nothing and leaves the client working, in both APIs; invalid
 * options fail construction naming the option.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as fc from "fast-check"
import type { EmittedError } from "../src/Analytics.ts"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import type { AnalyticsError } from "../src/AnalyticsError.ts"
import * as Collector from "../src/Collector.ts"
import { Analytics, ValidationError } from "../src/index.ts"
import * as FastDecoder from "../src/internal/fastDecoder.ts"
import { libraryName, libraryVersion } from "../src/internal/version.ts"
import * as Message from "../src/Message.ts"
import * as MockHttp from "./utils/MockHttp.ts"

const writeKey = "wk_bad_input_5ecret"
const NOW = Date.UTC(2024, 0, 2, 3, 4, 5, 678)
const encode = Message.makeEncoder({ now: () => NOW, uuid: () => "00000000-0000-4000-8000-000000000000" })
const library = { name: libraryName, version: libraryVersion }

// -----------------------------------------------------------------------------
// Valid calls
// -----------------------------------------------------------------------------

/** JSON.parse makes own `__proto__` keys; they are refused on purpose (see the invalid cases below). */
const hasProtoKey = (value: unknown): boolean =>
  typeof value === "object" && value !== null &&
  (Object.hasOwn(value, "__proto__") || Object.values(value).some(hasProtoKey))

// Any code point, or a lone surrogate: JSON.stringify escapes those, and they must come back as they went.
const unit = fc.oneof(
  fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code))
)
const text = fc.string({ unit, maxLength: 12 })
const nonEmptyText = fc.string({ unit, minLength: 1, maxLength: 12 })
const jsonObject = fc.dictionary(text, fc.jsonValue({ maxDepth: 3, stringUnit: unit }), { maxKeys: 5 })
  .filter((o) => !hasProtoKey(o))
const integrations = fc.dictionary(text, fc.oneof(fc.boolean(), jsonObject), { maxKeys: 3 })
  .filter((o) => !hasProtoKey(o))
const id = fc.oneof(nonEmptyText, fc.integer())
const isoYears = { min: new Date("0000-01-01T00:00:00.000Z"), max: new Date("9999-12-31T23:59:59.999Z") }
const timestamp = fc.oneof(
  fc.date({ noInvalidDate: true }),
  fc.date({ noInvalidDate: true, ...isoYears }).map((d) => d.toISOString())
)
/** An optional field: absent, null (absent too) or a value. */
const optional = <A>(arb: fc.Arbitrary<A>) =>
  fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 4, arbitrary: arb })

const common = {
  userId: optional(id),
  anonymousId: optional(id),
  context: optional(jsonObject),
  integrations: optional(integrations),
  timestamp: optional(timestamp),
  messageId: optional(nonEmptyText)
}

type Params = Record<string, unknown>
const given = (params: Params, field: string) => params[field] !== undefined && params[field] !== null
const hasIdentity = (params: Params) => given(params, "userId") || given(params, "anonymousId")

const callArbitraries: { readonly [K in Message.CallType]: fc.Arbitrary<Params> } = {
  identify: fc.record({ ...common, traits: optional(jsonObject) }, { requiredKeys: [] }).filter(hasIdentity),
  track: fc.record({ ...common, event: nonEmptyText, properties: optional(jsonObject) }, { requiredKeys: ["event"] })
    .filter(hasIdentity),
  page: fc.record({ ...common, name: optional(text), category: optional(text), properties: optional(jsonObject) }, {
    requiredKeys: []
  }).filter(hasIdentity),
  screen: fc.record({ ...common, name: optional(text), category: optional(text), properties: optional(jsonObject) }, {
    requiredKeys: []
  }).filter(hasIdentity),
  group: fc.record({ ...common, groupId: id, traits: optional(jsonObject) }, { requiredKeys: ["groupId"] }),
  alias: fc.record({ ...common, previousId: id, userId: id }, { requiredKeys: ["previousId", "userId"] })
}

interface Call {
  readonly type: Message.CallType
  readonly params: Params
}

const anyCall: fc.Arbitrary<Call> = fc.oneof(
  ...Message.callTypes.map((type) => callArbitraries[type].map((params): Call => ({ type, params })))
)

const ownFields: { readonly [K in Message.CallType]: ReadonlyArray<string> } = {
  identify: ["userId", "anonymousId", "traits"],
  track: ["userId", "anonymousId", "event", "properties"],
  page: ["userId", "anonymousId", "name", "category", "properties"],
  screen: ["userId", "anonymousId", "name", "category", "properties"],
  group: ["userId", "anonymousId", "groupId", "traits"],
  alias: ["userId", "anonymousId", "previousId"]
}
const idFields = new Set(["userId", "anonymousId", "groupId", "previousId"])
const emptyByDefault = new Set([
  "identify.traits",
  "track.properties",
  "page.properties",
  "screen.properties",
  "group.traits"
])

const same = (actual: unknown, expected: unknown, label: string) =>
  // Byte-for-byte: the JSON texts are equal (so -0 and 0 are the same, as JSON has no -0).
  assert.strictEqual(JSON.stringify(actual), JSON.stringify(expected), label)

/** The wire message (decoded from JSON) carries exactly what the caller gave, in the documented form. */
const assertSentAsGiven = ({ params, type }: Call, wire: Record<string, unknown>) => {
  const label = (field: string) => `${type}.${field}`
  assert.strictEqual(wire["type"], type)
  for (const field of ownFields[type]) {
    if (!given(params, field)) {
      // Absent or null: not sent, or sent as the original's default (an empty object), except page's category
      // copied into properties below.
      if (emptyByDefault.has(`${type}.${field}`)) {
        if (!(type === "page" && field === "properties" && given(params, "category"))) {
          same(wire[field], {}, label(field))
        }
      } else {
        assert.notProperty(wire, field, label(field))
      }
      continue
    }
    const value = params[field]
    const expected = idFields.has(field)
      ? String(value)
      : type === "page" && field === "properties" && given(params, "category")
      ? { ...(value as object), category: params["category"] }
      : value
    same(wire[field], expected, label(field))
  }
  if (type === "page" && given(params, "category") && !given(params, "properties")) {
    same(wire["properties"], { category: params["category"] }, label("properties"))
  }
  same(wire["context"], { ...(given(params, "context") ? params["context"] as object : {}), library }, label("context"))
  same(wire["integrations"], given(params, "integrations") ? params["integrations"] : {}, label("integrations"))
  if (given(params, "messageId")) same(wire["messageId"], params["messageId"], label("messageId"))
  else assert.match(String(wire["messageId"]), /^[0-9a-f-]{36}$/, label("messageId"))
  if (given(params, "timestamp")) {
    const ts = params["timestamp"]
    same(wire["timestamp"], ts instanceof Date ? ts.toISOString() : ts, label("timestamp"))
  } else {
    assert.match(String(wire["timestamp"]), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, label("timestamp"))
  }
}

/** Gives every sampled call a distinct messageId (the collector de-duplicates by it), keeping an arbitrary tail. */
const distinctIds = (calls: ReadonlyArray<Call>, prefix: string): Array<Call> =>
  calls.map(({ params, type }, i) => ({
    type,
    params: given(params, "messageId")
      ? { ...params, messageId: `${prefix}${i}:${String(params["messageId"])}` }
      : params
  }))

describe("valid calls", () => {
  it("any JSON-valid call is accepted and encoded exactly as given (real encoder), on the fast path", () => {
    fc.assert(
      fc.property(anyCall, (call) => {
        const slow = FastDecoder.slowPath.count
        const result = encode(call.type, call.params)
        // Valid params never reach the Schema parser: the fast path vouched for them.
        assert.strictEqual(FastDecoder.slowPath.count, slow, "a valid call took the Schema parser's slow path")
        if (Result.isFailure(result)) {
          // The only refusal a JSON-valid call may get is the size limit, and only when really over it.
          assert.strictEqual(result.failure._tag, "MessageTooLarge", result.failure.message)
          return
        }
        assert.strictEqual(result.success.bytes, Buffer.byteLength(result.success.json, "utf8"))
        assertSentAsGiven(call, JSON.parse(result.success.json))
      }),
      { numRuns: 1_000, seed: 4_242 }
    )
  })

  it.live(
    "sampled JSON-valid calls arrive at the Collector byte-for-byte as encoded, through both APIs",
    () =>
      Effect.gen(function*() {
        const calls = fc.sample(anyCall, { numRuns: 80, seed: 77 })
        const collector = yield* Collector.make({ writeKey })

        // Effect API, over undici.
        const viaEffect = distinctIds(calls, "effect-")
        const sent = new Map<string, Call & { readonly json: string }>()
        yield* Effect.gen(function*() {
          const client = yield* AnalyticsClient.AnalyticsClient
          for (const call of viaEffect) {
            const { message } = yield* (
              client[call.type] as (p: unknown) => Effect.Effect<AnalyticsClient.Receipt, unknown>
            )(call.params)
            sent.set(message.messageId, { ...call, json: JSON.stringify(message) })
          }
        }).pipe(
          Effect.provide(
            AnalyticsClient.layer({ writeKey, host: collector.url, flushInterval: 10 }).pipe(
              Layer.provide(NodeHttpClient.layerUndici)
            )
          )
        )

        // Facade, over its default client.
        const viaFacade = distinctIds(calls, "facade-")
        const analytics = new Analytics({ writeKey, host: collector.url, flushInterval: 10 })
        const callbacks: Array<AnalyticsError | undefined> = []
        for (const call of viaFacade) {
          ;(analytics[call.type] as (p: unknown, cb: (err: AnalyticsError | undefined, ctx: any) => void) => void)(
            call.params,
            (err, ctx) => {
              callbacks.push(err)
              sent.set(ctx.id, { ...call, json: JSON.stringify(ctx.event) })
            }
          )
        }
        yield* Effect.promise(() => analytics.closeAndFlush())
        assert.deepStrictEqual(callbacks, viaFacade.map(() => undefined))

        const received = yield* collector.messages
        assert.strictEqual(received.length, calls.length * 2)
        for (const message of received) {
          const call = sent.get(message.messageId!)
          assert.isDefined(call, message.messageId)
          // What the collector decoded, re-encoded, is the very JSON the client built.
          assert.strictEqual(JSON.stringify(message), call!.json)
          assertSentAsGiven(call!, message)
        }
      }),
    { timeout: 20_000 }
  )
})

// -----------------------------------------------------------------------------
// Invalid calls
// -----------------------------------------------------------------------------

const circular = (): Record<string, unknown> => {
  const root: Record<string, unknown> = { cart: { items: [1] } }
  ;(root["cart"] as Record<string, unknown>)["owner"] = root
  return root
}
const protoKey = (): Record<string, unknown> => JSON.parse("{\"ok\":1,\"__proto__\":{\"isAdmin\":true}}")

/** [call, params, the field the error must name]. */
const invalidCalls: ReadonlyArray<readonly [Message.CallType, unknown, string]> = [
  // not an object at all
  ["track", null, ""],
  ["track", "signed_up", ""],
  ["identify", [], ""],
  // missing or null ids
  ["identify", {}, "userId"],
  ["track", { event: "e" }, "userId"],
  ["page", { userId: null, anonymousId: null }, "userId"],
  ["group", { userId: "u" }, "groupId"],
  ["group", { userId: "u", groupId: null }, "groupId"],
  ["alias", { userId: "u" }, "previousId"],
  ["alias", { previousId: "p" }, "userId"],
  // wrong types
  ["identify", { userId: "" }, "userId"],
  ["identify", { userId: { id: 1 } }, "userId"],
  ["identify", { userId: "u", anonymousId: true }, "anonymousId"],
  ["identify", { userId: NaN }, "userId"],
  ["identify", { userId: 10n }, "userId"],
  ["track", { userId: "u", event: 5 }, "event"],
  ["track", { userId: "u", event: null }, "event"],
  ["track", { userId: "u", event: "e", properties: ["a"] }, "properties"],
  ["identify", { userId: "u", traits: "vip" }, "traits"],
  ["identify", { userId: "u", context: 5 }, "context"],
  ["track", { userId: "u", event: "e", integrations: { Mixpanel: 5 } }, "integrations.Mixpanel"],
  ["track", { userId: "u", event: "e", timestamp: "yesterday" }, "timestamp"],
  ["track", { userId: "u", event: "e", timestamp: 1_700_000_000_000 }, "timestamp"],
  ["track", { userId: "u", event: "e", timestamp: new Date(Number.NaN) }, "timestamp"],
  ["track", { userId: "u", event: "e", messageId: "" }, "messageId"],
  ["page", { userId: "u", name: 5 }, "name"],
  ["screen", { userId: "u", category: ["Shop"] }, "category"],
  // empty event
  ["track", { userId: "u", event: "" }, "event"],
  // values JSON cannot carry, named by their path
  ["track", { userId: "u", event: "e", properties: { total: Number.NaN } }, "properties.total"],
  ["track", { userId: "u", event: "e", properties: { total: Infinity } }, "properties.total"],
  ["track", { userId: "u", event: "e", properties: { total: -Infinity } }, "properties.total"],
  ["track", { userId: "u", event: "e", properties: { big: 10n } }, "properties.big"],
  ["identify", { userId: "u", traits: { fn: () => 1 } }, "traits.fn"],
  ["identify", { userId: "u", traits: { s: Symbol("s") } }, "traits.s"],
  ["identify", { userId: "u", traits: { at: new Date(Number.NaN) } }, "traits.at"],
  ["identify", { userId: "u", traits: { list: [1, undefined] } }, "traits.list.1"],
  ["identify", { userId: "u", context: { extra: new Map() } }, "context.extra"],
  ["identify", { userId: "u", traits: circular() }, "traits.cart.owner"],
  ["track", { userId: "u", event: "e", properties: { nested: protoKey() } }, "properties.nested.__proto__"],
  ["identify", { userId: "u", traits: protoKey() }, "traits.__proto__"],
  ["group", { groupId: "g", traits: { a: { b: { c: [Number.NaN] } } } }, "traits.a.b.c.0"]
]

const badValues: ReadonlyArray<readonly [string, (root: Record<string, unknown>) => unknown, string]> = [
  ["NaN", () => Number.NaN, ""],
  ["Infinity", () => Infinity, ""],
  ["-Infinity", () => -Infinity, ""],
  ["BigInt", () => 1n, ""],
  ["function", () => () => 1, ""],
  ["symbol", () => Symbol("x"), ""],
  ["invalid date", () => new Date(Number.NaN), ""],
  ["undefined in an array", () => [0, undefined], ".1"],
  ["a Map", () => new Map([["k", 1]]), ""],
  ["a circular reference", (root) => root, ""],
  ["an own __proto__ key", () => protoKey(), ".__proto__"]
]

// A path of ordinary keys (no "." so the joined field reads back unambiguously).
const path = fc.array(fc.string({ minLength: 1, maxLength: 6 }).filter((k) => k !== "__proto__" && !k.includes(".")), {
  minLength: 1,
  maxLength: 4
})

/** A valid track call with one bad value planted at `keys` inside its properties; returns the field to expect. */
const plant = (properties: Record<string, unknown>, keys: ReadonlyArray<string>, bad: (typeof badValues)[number]) => {
  const root: Record<string, unknown> = structuredClone(properties)
  let parent = root
  for (const key of keys.slice(0, -1)) {
    const next: Record<string, unknown> = {}
    parent[key] = next
    parent = next
  }
  parent[keys.at(-1)!] = bad[1](root)
  return {
    params: { userId: "u", event: "planted", properties: root },
    field: `properties.${keys.join(".")}${bad[2]}`
  }
}

const plantedCalls = fc.record({ properties: jsonObject, keys: path, bad: fc.constantFrom(...badValues) }).map((
  { bad, keys, properties }
) => ({ ...plant(properties, keys, bad), kind: bad[0] }))

const tooLarge = { userId: "u", event: "huge", properties: { filler: "x".repeat(Message.MAX_MESSAGE_BYTES) } }

describe("invalid calls", () => {
  it("the encoder names the field of every listed invalid call", () => {
    for (const [type, params, field] of invalidCalls) {
      const result = encode(type, params)
      assert.isTrue(Result.isFailure(result), `${type} ${field}`)
      if (Result.isFailure(result)) {
        assert.strictEqual(result.failure._tag, "ValidationError", result.failure.message)
        assert.strictEqual((result.failure as { field?: string }).field, field, result.failure.message)
        if (field !== "") assert.include(result.failure.message, `"${field}"`)
      }
    }
  })

  it("a bad value planted anywhere in valid properties is refused, naming its path", () => {
    fc.assert(
      fc.property(plantedCalls, ({ field, kind, params }) => {
        const result = encode("track", params)
        assert.isTrue(Result.isFailure(result), kind)
        if (Result.isFailure(result)) {
          assert.strictEqual(result.failure._tag, "ValidationError", kind)
          assert.strictEqual((result.failure as { field?: string }).field, field, `${kind}: ${result.failure.message}`)
        }
      }),
      { numRuns: 500, seed: 99 }
    )
  })

  it.live(
    "Effect API: each invalid call fails with the field named, queues nothing, and the client keeps working",
    () =>
      Effect.gen(function*() {
        const collector = yield* Collector.make({ writeKey })
        const planted = fc.sample(plantedCalls, { numRuns: 40, seed: 5 })
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          AnalyticsClient.layer({ writeKey, host: collector.url, flushInterval: 10 }).pipe(
            Layer.provide(NodeHttpClient.layerUndici)
          ),
          scope
        )
        const client = Context.get(context, AnalyticsClient.AnalyticsClient)
        const call = (type: Message.CallType, params: unknown) =>
          (client[type] as (p: unknown) => Effect.Effect<AnalyticsClient.Receipt, AnalyticsError>)(params)
        const good: Array<string> = []
        const cases = [...invalidCalls, ...planted.map((p) => ["track", p.params, p.field] as const)]
        for (const [type, params, field] of cases) {
          const error = yield* Effect.flip(call(type, params))
          assert.strictEqual(error.reason._tag, "ValidationError", error.message)
          assert.strictEqual(error.reason._tag === "ValidationError" ? error.reason.field : undefined, field)
          // Still working: the next call goes through.
          good.push((yield* call("track", { userId: "u", event: "after_invalid" })).messageId)
        }
        const large = yield* Effect.flip(call("track", tooLarge))
        assert.strictEqual(large.reason._tag, "MessageTooLarge")
        assert.match(large.message, /over the limit of 32768 bytes/)
        good.push((yield* call("track", { userId: "u", event: "after_too_large" })).messageId)
        yield* client.flush
        yield* Scope.close(scope, Exit.void)
        const received = yield* collector.messages
        // Batches go out concurrently, so arrival order is not call order.
        assert.sameMembers(received.map((m) => m.messageId!), good)
        assert.strictEqual(received.length, good.length)
      }),
    { timeout: 20_000 }
  )

  it.live(
    "facade: each invalid call throws ValidationError naming the field, queues nothing, and the client keeps working",
    () =>
      Effect.gen(function*() {
        const collector = yield* Collector.make({ writeKey })
        const planted = fc.sample(plantedCalls, { numRuns: 40, seed: 6 })
        const analytics = new Analytics({ writeKey, host: collector.url, flushInterval: 10 })
        const events: Array<EmittedError> = []
        analytics.on("error", (e) => events.push(e))
        const callbacks: Array<string> = []
        const call = (type: Message.CallType, params: unknown, onSettled?: (err: AnalyticsError | undefined) => void) =>
          (analytics[type] as (p: unknown, cb?: (err: AnalyticsError | undefined) => void) => void)(params, onSettled)
        let good = 0
        const cases = [...invalidCalls, ...planted.map((p) => ["track", p.params, p.field] as const)]
        for (const [type, params, field] of cases) {
          let thrown: unknown
          try {
            call(type, params, () => callbacks.push(`invalid ${type} ${field}`))
          } catch (error) {
            thrown = error
          }
          assert.instanceOf(thrown, ValidationError, `${type} ${field}`)
          assert.strictEqual((thrown as ValidationError).field, field)
          call("track", { userId: "u", event: "after_invalid", messageId: `good-${good++}` })
        }
        // Too large is not a caller bug the facade throws for: it is reported like a delivery outcome.
        const tooLargeError = yield* Effect.promise(() =>
          new Promise<AnalyticsError | undefined>((resolve) => call("track", tooLarge, resolve))
        )
        assert.strictEqual(tooLargeError?.reason._tag, "MessageTooLarge")
        call("track", { userId: "u", event: "after_too_large", messageId: `good-${good++}` })
        yield* Effect.promise(() => analytics.closeAndFlush())
        assert.deepStrictEqual(callbacks, [], "a refused call's callback never runs")
        assert.deepStrictEqual(events.map((e) => [e.code, e.reason.reason._tag]), [[
          "message_too_large",
          "MessageTooLarge"
        ]])
        const received = yield* collector.messages
        assert.sameMembers(received.map((m) => m.messageId!), Array.from({ length: good }, (_, i) => `good-${i}`))
        assert.strictEqual(received.length, good)
      }),
    { timeout: 20_000 }
  )
})

// -----------------------------------------------------------------------------
// Invalid options
// -----------------------------------------------------------------------------

/** [options on top of a valid write key, the option the error must name]. */
const invalidOptions: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
  [{ writeKey: undefined }, "writeKey"],
  [{ writeKey: "" }, "writeKey"],
  [{ writeKey: 42 }, "writeKey"],
  [{ writeKey: ` ${writeKey} ` }, "writeKey"],
  [{ host: "nope" }, "host"],
  [{ host: "ftp://cdp.example" }, "host"],
  [{ host: "https://user:pw@cdp.example" }, "host"],
  [{ host: "https://cdp.example/?q=1" }, "host"],
  [{ host: 5 }, "host"],
  [{ region: "mars" }, "region"],
  [{ path: "v1/batch" }, "path"],
  [{ maxEventsInBatch: 0 }, "maxEventsInBatch"],
  [{ maxEventsInBatch: 1.5 }, "maxEventsInBatch"],
  [{ maxEventsInBatch: "20" }, "maxEventsInBatch"],
  [{ flushInterval: -1 }, "flushInterval"],
  [{ flushInterval: Number.NaN }, "flushInterval"],
  [{ flushInterval: Infinity }, "flushInterval"],
  [{ flushInterval: "soon" }, "flushInterval"],
  [{ maxRetries: -1 }, "maxRetries"],
  [{ httpRequestTimeout: 0 }, "httpRequestTimeout"],
  [{ maxQueueSize: 0 }, "maxQueueSize"],
  [{ maxConcurrentRequests: 0 }, "maxConcurrentRequests"],
  [{ disable: "yes" }, "disable"],
  [{ compression: "br" }, "compression"],
  [{ strictMode: 1 }, "strictMode"],
  [{ closeTimeout: -5 }, "closeTimeout"],
  [{ overflow: "drop" }, "overflow"]
]

const buildLayer = (options: Record<string, unknown>) =>
  Effect.gen(function*() {
    const mock = yield* MockHttp.make()
    const layer = AnalyticsClient.layer(options as never).pipe(Layer.provide(mock.layer))
    return yield* Effect.scoped(Layer.build(layer)).pipe(Effect.asVoid, Effect.flip, Effect.option)
  })

describe("invalid options", () => {
  it("facade: the constructor throws, naming the option and never the key", () => {
    for (const [options, option] of invalidOptions) {
      let thrown: unknown
      try {
        const analytics = new Analytics({ writeKey, ...options } as never)
        assert.fail(`accepted ${option}, version ${analytics.VERSION}`)
      } catch (error) {
        thrown = error
      }
      assert.instanceOf(thrown, Error, option)
      assert.include((thrown as Error).message, `option "${option}"`)
      assert.notInclude((thrown as Error).message, writeKey)
    }
  })

  it.effect("Effect API: the layer fails with InvalidOption, naming the option and never the key", () =>
    Effect.gen(function*() {
      for (const [options, option] of invalidOptions) {
        const failure = yield* buildLayer({ writeKey, ...options })
        assert.isTrue(failure._tag === "Some", option)
        const error = failure._tag === "Some" ? failure.value : undefined
        assert.strictEqual(error?.reason._tag, "InvalidOption", option)
        assert.strictEqual(error?.reason._tag === "InvalidOption" ? error.reason.option : undefined, option)
        assert.notInclude(error?.message ?? "", writeKey)
      }
    }))

  it.effect("Effect API: a count option is accepted exactly when it is an integer at or above its minimum", () =>
    Effect.gen(function*() {
      const minimums = { maxEventsInBatch: 1, maxRetries: 0, maxQueueSize: 1, maxConcurrentRequests: 1 } as const
      const samples = fc.sample(
        fc.record({
          option: fc.constantFrom(...Object.keys(minimums) as Array<keyof typeof minimums>),
          value: fc.oneof(fc.integer({ min: -3, max: 50 }), fc.double(), fc.constantFrom(Number.NaN, Infinity, -0))
        }),
        { numRuns: 150, seed: 11 }
      )
      for (const { option, value } of samples) {
        const failure = yield* buildLayer({ writeKey, [option]: value })
        const valid = Number.isInteger(value) && value >= minimums[option]
        assert.strictEqual(failure._tag === "None", valid, `${option}: ${value}`)
        if (failure._tag === "Some") assert.include(failure.value.message, `option "${option}"`)
      }
    }))
})
