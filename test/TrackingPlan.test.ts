/**
 * Typed tracking plans: what the compiler refuses (checked by `tsc` in `npm run check`: each `@ts-expect-error` must
 * stay an error), what the run time refuses and with which field and rule, what is sent (the Schemas' decoded
 * values), the Effect API's typed accessor, and the JSON Schema export.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { expectTypeOf } from "vitest"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import { Analytics, type Receipt, TrackingPlan, ValidationError } from "../src/index.ts"
import type * as Message from "../src/Message.ts"

const plan = TrackingPlan.make({
  events: {
    "Order Completed": Schema.Struct({
      orderId: Schema.String,
      revenue: Schema.Number,
      // Sent as the ISO string of the decoded Date.
      shippedAt: Schema.optional(Schema.DateFromString)
    }),
    "Signed Up": Schema.Struct({ plan: Schema.Literals(["free", "pro"]) })
  },
  traits: Schema.Struct({ email: Schema.String, name: Schema.optional(Schema.String) }),
  groupTraits: Schema.Struct({ employees: Schema.Number })
})

const open = TrackingPlan.make({
  events: { "Signed Up": Schema.Struct({ plan: Schema.Literals(["free", "pro"]) }) },
  unknownEvents: "allow"
})

/** A facade that sends nothing (`disable`), so every call settles at once and nothing leaves the process. */
const client = <P extends TrackingPlan.Any>(trackingPlan: P, beforeSend?: AnalyticsSettingsBeforeSend) =>
  new Analytics({
    writeKey: "wk_plan",
    disable: true,
    trackingPlan,
    ...(beforeSend === undefined ? {} : { beforeSend })
  })
type AnalyticsSettingsBeforeSend = (message: Message.WireMessage) => Message.WireMessage | null

const thrown = (run: () => unknown): ValidationError => {
  try {
    run()
  } catch (error) {
    if (error instanceof ValidationError) return error
    throw error
  }
  throw new Error("did not throw")
}

describe("tracking plan: types", () => {
  it("types track by the plan's events, and traits by its Schemas", async () => {
    const analytics = client(plan)
    // Compiles: a planned event with its properties.
    const receipt = analytics.track({
      userId: "u1",
      event: "Order Completed",
      properties: { orderId: "o", revenue: 1 }
    })
    expectTypeOf(receipt).toEqualTypeOf<Receipt>()
    analytics.identify({ userId: "u1", traits: { email: "a@example.com" } })
    analytics.group({ userId: "u1", groupId: "g", traits: { employees: 12 } })
    if (Math.random() > 2) {
      // Never run: only the compiler looks at these.
      // @ts-expect-error an event outside the plan
      analytics.track({ userId: "u1", event: "Order Cancelled", properties: {} })
      // @ts-expect-error revenue must be a number
      analytics.track({ userId: "u1", event: "Order Completed", properties: { orderId: "o", revenue: "1" } })
      // @ts-expect-error the properties are required: the Schema has required keys
      analytics.track({ userId: "u1", event: "Signed Up" })
      // @ts-expect-error traits need an email
      analytics.identify({ userId: "u1", traits: { name: "Ada" } })
    }
    await analytics.closeAndFlush()
  })

  it("with unknownEvents: \"allow\", other events pass untyped, but a planned event keeps its type", async () => {
    const analytics = client(open)
    analytics.track({ userId: "u1", event: "Anything Else", properties: { free: "form" } })
    if (Math.random() > 2) {
      // @ts-expect-error a planned event keeps its properties' type
      analytics.track({ userId: "u1", event: "Signed Up", properties: { plan: "enterprise" } })
    }
    await analytics.closeAndFlush()
  })

  it("without a plan, everything stays as before", () => {
    const analytics = new Analytics({ writeKey: "wk", disable: true })
    expectTypeOf(analytics.track).parameter(0).toMatchTypeOf<{ event: string }>()
    analytics.track({ userId: "u1", event: "Whatever", properties: { any: 1 } })
    return analytics.closeAndFlush()
  })
})

describe("tracking plan: run time", () => {
  it("refuses what breaks the plan, naming the path and the rule", async () => {
    const analytics = client(plan)
    const untyped = analytics as unknown as Analytics
    const revenue = thrown(() =>
      untyped.track({ userId: "u1", event: "Order Completed", properties: { orderId: "o", revenue: "42" } })
    )
    assert.strictEqual(revenue.field, "properties.revenue")
    assert.match(revenue.message, /properties\.revenue/)
    assert.match(revenue.rule, /number/)
    const missing = thrown(() => untyped.track({ userId: "u1", event: "Order Completed", properties: { revenue: 1 } }))
    assert.strictEqual(missing.field, "properties.orderId")
    const unknown = thrown(() => untyped.track({ userId: "u1", event: "Order Complete", properties: {} }))
    assert.strictEqual(unknown.field, "event")
    assert.match(unknown.rule, /not an event of the tracking plan \(did you mean "Order Completed"\?\)/)
    const traits = thrown(() => untyped.identify({ userId: "u1", traits: { name: "Ada" } }))
    assert.strictEqual(traits.field, "traits.email")
    const group = thrown(() => untyped.group({ userId: "u1", groupId: "g", traits: { employees: "many" } }))
    assert.strictEqual(group.field, "traits.employees")
    await analytics.closeAndFlush()
  })

  it("sends what the Schemas decode", async () => {
    const sent: Array<Message.WireMessage> = []
    const analytics = client(plan, (message) => {
      sent.push(message)
      return message
    })
    analytics.track({
      userId: "u1",
      event: "Order Completed",
      properties: { orderId: "o-1", revenue: 42, shippedAt: "2026-12-01T10:00:00Z" }
    }) // Struct decoding drops keys the Schema does not name: what the plan does not know is not sent.
    ;(analytics as unknown as Analytics).track({
      userId: "u1",
      event: "Signed Up",
      properties: { plan: "pro", extra: "dropped" }
    })
    await analytics.closeAndFlush()
    assert.deepStrictEqual(JSON.parse(JSON.stringify(sent[0]!.properties)), {
      orderId: "o-1",
      revenue: 42,
      shippedAt: "2026-12-01T10:00:00.000Z"
    })
    assert.deepStrictEqual(sent[1]!.properties, { plan: "pro" })
  })

  it("with unknownEvents: \"allow\", an unknown event is sent unchecked", async () => {
    const sent: Array<Message.WireMessage> = []
    const analytics = client(open, (message) => {
      sent.push(message)
      return message
    })
    analytics.track({ userId: "u1", event: "Clicked", properties: { anything: [1, 2] } })
    await analytics.closeAndFlush()
    assert.deepStrictEqual(sent[0]!.properties, { anything: [1, 2] })
  })

  it("checks calls of the Effect API, typed by AnalyticsClient.typed(plan)", () =>
    Effect.gen(function*() {
      const analytics = yield* AnalyticsClient.typed(plan)
      const receipt = yield* analytics.track({
        userId: "u1",
        event: "Signed Up",
        properties: { plan: "free" }
      })
      assert.deepStrictEqual(receipt.message.properties, { plan: "free" })
      const error = yield* Effect.flip(
        (analytics as unknown as AnalyticsClient.Service).track({
          userId: "u1",
          event: "Signed Up",
          properties: { plan: "enterprise" }
        })
      )
      assert.strictEqual(error.reason._tag, "ValidationError")
      assert.isTrue(error.reason._tag === "ValidationError" && error.reason.field === "properties.plan")
      if (Math.random() > 2) {
        // @ts-expect-error the typed client refuses an event outside the plan
        yield* analytics.track({ userId: "u1", event: "Nope", properties: {} })
      }
    }).pipe(
      Effect.provide(AnalyticsClient.layerTest.pipe(Layer.provide(TrackingPlan.layer(plan)))),
      Effect.runPromise
    ))

  it("typed(plan) on a client built without that plan dies, naming the fix", async () => {
    const exit = await Effect.runPromiseExit(
      AnalyticsClient.typed(plan).pipe(Effect.provide(AnalyticsClient.layerTest))
    )
    assert.isTrue(exit._tag === "Failure")
    assert.match(String(exit._tag === "Failure" ? exit.cause : ""), /provide TrackingPlan\.layer\(plan\)/)
  })
})

describe("tracking plan: decoded values and beforeSend", () => {
  const priced = TrackingPlan.make({ events: { Priced: Schema.Struct({ price: Schema.NumberFromString }) } })

  it("what the plan's Schema decodes must still be JSON: a NaN is refused, naming the field and the rule", async () => {
    const analytics = client(priced)
    const error = thrown(() => analytics.track({ userId: "u1", event: "Priced", properties: { price: "abc" } }))
    assert.strictEqual(error.field, "properties.price")
    assert.match(error.rule, /must be a JSON number, got NaN/)
    assert.match(error.rule, /tracking plan/)
    await analytics.closeAndFlush()
  })

  it("what beforeSend returns is checked against the plan again, on the decoded side", async () => {
    const sentAfter = async (change: (properties: Schema.JsonObject) => Schema.JsonObject) => {
      const analytics = client(plan, (message) => ({ ...message, properties: change({ ...message.properties }) }))
      const sent = new Promise<Message.WireMessage>((resolve, reject) =>
        analytics.track(
          { userId: "u1", event: "Order Completed", properties: { orderId: "o-1", revenue: 42 } },
          (error, ctx) => error === undefined ? resolve(ctx!.event) : reject(error)
        )
      )
      await analytics.closeAndFlush()
      return sent
    }
    const broken = await sentAfter((properties) => ({ ...properties, revenue: "lots" })).catch((error) => error)
    assert.instanceOf(broken, ValidationError)
    assert.strictEqual((broken as ValidationError).field, "properties.revenue")
    // A key the plan's Schema does not name is dropped, as from a caller's params.
    const extra = await sentAfter((properties) => ({ ...properties, coupon: "X" }))
    assert.deepStrictEqual(extra.properties, { orderId: "o-1", revenue: 42 })
    // The decoded side: a plan's transformation is not applied twice (42 is not decoded again from a string).
    const analytics = client(priced, (message) => message)
    const sent = new Promise<Message.WireMessage>((resolve, reject) =>
      analytics.track(
        { userId: "u1", event: "Priced", properties: { price: "42" } },
        (error, ctx) => error === undefined ? resolve(ctx!.event) : reject(error)
      )
    )
    await analytics.closeAndFlush()
    assert.deepStrictEqual((await sent).properties, { price: 42 })
  })

  it("an event beforeSend renames out of the plan is refused", async () => {
    const analytics = client(plan, (message) => ({ ...message, event: "Order Cancelled" }))
    const error = thrown(() =>
      analytics.track({ userId: "u1", event: "Order Completed", properties: { orderId: "o-1", revenue: 1 } })
    )
    assert.strictEqual(error.field, "event")
    await analytics.closeAndFlush()
  })
})

describe("tracking plan: JSON Schema", () => {
  it("exports the plan as one draft 2020-12 JSON Schema, each part also under $defs", () => {
    const document = TrackingPlan.toJsonSchema(plan)
    assert.strictEqual(document.$schema, "https://json-schema.org/draft/2020-12/schema")
    const defs = document.$defs as Record<string, any>
    assert.deepStrictEqual(defs["event/Order Completed"].required, ["orderId", "revenue"])
    assert.deepStrictEqual(Object.keys(defs["event/Order Completed"].properties), ["orderId", "revenue", "shippedAt"])
    assert.deepStrictEqual(defs["event/Signed Up"].properties.plan, { type: "string", enum: ["free", "pro"] })
    assert.deepStrictEqual(defs.traits.required, ["email"])
    const rules = document.allOf as Array<any>
    // unknownEvents "reject": a track's event must be one of the plan's.
    assert.isTrue(
      rules.some((rule) =>
        JSON.stringify(rule.then?.properties?.event) === JSON.stringify({ enum: ["Order Completed", "Signed Up"] })
      )
    )
    assert.isTrue(rules.some((rule) => rule.then?.properties?.properties?.$ref === "#/$defs/event~1Order%20Completed"))
  })

  it("describes what is sent (the Schemas' decoded side), each event's definitions under its own $defs", () => {
    const Item = (field: string) => Schema.Struct({ [field]: Schema.String }).annotate({ identifier: "Item" })
    const document = TrackingPlan.toJsonSchema(TrackingPlan.make({
      events: {
        Priced: Schema.Struct({ price: Schema.NumberFromString, items: Schema.Array(Item("sku")) }),
        Listed: Schema.Struct({ items: Schema.Array(Item("name")) })
      }
    }))
    const defs = document.$defs as Record<string, any>
    // NumberFromString takes a string and sends a number.
    assert.include(JSON.stringify(defs["event/Priced"].properties.price), `"type":"number"`)
    // Both events name a definition "Item"; each keeps its own, and its $ref points at it.
    assert.deepStrictEqual(defs["event/Priced"].properties.items.items, { $ref: "#/$defs/event~1Priced/$defs/Item" })
    assert.deepStrictEqual(defs["event/Listed"].properties.items.items, { $ref: "#/$defs/event~1Listed/$defs/Item" })
    assert.deepStrictEqual(defs["event/Priced"].$defs.Item.required, ["sku"])
    assert.deepStrictEqual(defs["event/Listed"].$defs.Item.required, ["name"])
  })
})
