/**
 * A typed tracking plan: the events an application may send, each with a Schema for its `properties`, and Schemas
 * for the traits of `identify` and `group`. A client given a plan is typed by it (a `track` of an event outside the
 * plan, or with the wrong properties, does not compile) and checks every call against it at run time (a violation is
 * a `ValidationError` naming the path, such as `properties.revenue`).
 *
 * ```ts
 * import { Analytics, TrackingPlan } from "cdp-analytics-effect"
 * import { Schema } from "effect"
 *
 * const plan = TrackingPlan.make({
 *   events: {
 *     "Order Completed": Schema.Struct({ orderId: Schema.String, revenue: Schema.Number }),
 *     "Signed Up": Schema.Struct({ plan: Schema.Literals(["free", "pro"]) })
 *   },
 *   traits: Schema.Struct({ email: Schema.String, name: Schema.optional(Schema.String) }),
 *   unknownEvents: "reject"
 * })
 *
 * const analytics = new Analytics({ writeKey: "YOUR_API_KEY", trackingPlan: plan })
 * analytics.track({ userId: "u1", event: "Order Completed", properties: { orderId: "o-1", revenue: 42 } })
 * ```
 *
 * The values the Schemas decode are what is sent (a `Date` is sent as its ISO string, a default fills in a missing
 * property). `toJsonSchema` exports the plan for the people who read it rather than compile it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaParser from "effect/SchemaParser"
import { ValidationError } from "./AnalyticsError.ts"
import { nearest } from "./internal/nearest.ts"
import type * as Message from "./Message.ts"
import { validationErrorOf } from "./Message.ts"

const TypeId = "~cdp-analytics-effect/TrackingPlan"

/**
 * A Schema the plan can run: no services to decode with, a JSON object once decoded and serialized.
 *
 * @category models
 * @since 0.1.0
 */
export type PropertiesSchema = Schema.Codec<any, any, never, any>

/**
 * @category models
 * @since 0.1.0
 */
export interface TrackingPlan<
  Events extends Record<string, PropertiesSchema> = Record<string, PropertiesSchema>,
  Traits extends PropertiesSchema | undefined = PropertiesSchema | undefined,
  GroupTraits extends PropertiesSchema | undefined = PropertiesSchema | undefined,
  Unknown extends "allow" | "reject" = "allow" | "reject"
> {
  readonly [TypeId]: typeof TypeId
  readonly events: Events
  readonly traits: Traits
  readonly groupTraits: GroupTraits
  /** What happens to a `track` of an event the plan does not name. */
  readonly unknownEvents: Unknown
}

/**
 * Any plan.
 *
 * @category models
 * @since 0.1.0
 */
export type Any = TrackingPlan<any, any, any, any>

/**
 * @category models
 * @since 0.1.0
 */
export interface Options<
  Events extends Record<string, PropertiesSchema>,
  Traits extends PropertiesSchema | undefined,
  GroupTraits extends PropertiesSchema | undefined,
  Unknown extends "allow" | "reject"
> {
  /** The events `track` may send, each with the Schema of its `properties`. */
  readonly events: Events
  /** The Schema of `identify`'s `traits`. Without it they are any JSON object. */
  readonly traits?: Traits
  /** The Schema of `group`'s `traits`. Without it they are any JSON object. */
  readonly groupTraits?: GroupTraits
  /**
   * `"reject"`: a `track` of an event the plan does not name is a `ValidationError` (and, from typed code, a type
   * error). `"allow"`: it is sent unchecked.
   * @default "reject"
   */
  readonly unknownEvents?: Unknown
}

/**
 * @category constructors
 * @since 0.1.0
 */
export const make = <
  const Events extends Record<string, PropertiesSchema>,
  Traits extends PropertiesSchema | undefined = undefined,
  GroupTraits extends PropertiesSchema | undefined = undefined,
  Unknown extends "allow" | "reject" = "reject"
>(options: Options<Events, Traits, GroupTraits, Unknown>): TrackingPlan<Events, Traits, GroupTraits, Unknown> => ({
  [TypeId]: TypeId,
  events: options.events,
  traits: options.traits as Traits,
  groupTraits: options.groupTraits as GroupTraits,
  unknownEvents: (options.unknownEvents ?? "reject") as Unknown
})

/**
 * The plan an `AnalyticsClient` checks its calls against, when one is provided ({@link layer}).
 *
 * @category services
 * @since 0.1.0
 */
export class Current extends Context.Service<Current, Any>()("cdp-analytics-effect/TrackingPlan") {}

/**
 * Provides a plan to `AnalyticsClient` (and `AnalyticsClient.layerTest`): every call is checked against it. Type the
 * calls with `AnalyticsClient.typed(plan)`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (plan: Any): Layer.Layer<Current> => Layer.succeed(Current, plan)

/**
 * @category guards
 * @since 0.1.0
 */
export const isTrackingPlan = (u: unknown): u is Any =>
  typeof u === "object" && u !== null && (u as Record<string, unknown>)[TypeId] === TypeId

// -----------------------------------------------------------------------------
// Types of the calls a plan allows
// -----------------------------------------------------------------------------

type EventsOf<P> = P extends TrackingPlan<infer E, any, any, any> ? E : never
type UnknownOf<P> = P extends TrackingPlan<any, any, any, infer U> ? U : never

/** What a caller writes for a Schema: its encoded side. */
type Input<S> = S extends Schema.Codec<any, infer E, any, any> ? E : never

type WithoutKeys<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

/** No plan, a plan that may be absent, or one whose events are not known to the compiler: calls stay untyped. */
type Untyped<P> = undefined extends P ? true : string extends keyof EventsOf<P> ? true : false

/**
 * The params of `track` under a plan, for the event `E`: the event's own properties type, or (with `unknownEvents:
 * "allow"), for an event the plan does not name, any properties. Without a plan, `Message.TrackParams`.
 *
 * @category models
 * @since 0.1.0
 */
export type TrackParams<P extends Any | undefined, E extends string> = Untyped<P> extends true ? Message.TrackParams
  : E extends keyof EventsOf<P> ?
      & WithoutKeys<Message.TrackParams, "event" | "properties">
      & { readonly event: E; readonly properties: Input<EventsOf<P>[E]> }
  : UnknownOf<P> extends "allow" ? Message.TrackParams & { readonly event: E }
  : never

type TraitsParams<Base, S> = [S] extends [undefined] ? Base
  : WithoutKeys<Base, "traits"> & { readonly traits: Input<S> }

/**
 * The params of `identify` under a plan: its traits typed by the plan's `traits`, when it has them.
 *
 * @category models
 * @since 0.1.0
 */
export type IdentifyParams<P extends Any | undefined> = Untyped<P> extends true ? Message.IdentifyParams
  : P extends TrackingPlan<any, infer T, any, any> ? TraitsParams<Message.IdentifyParams, T>
  : Message.IdentifyParams

/**
 * The params of `group` under a plan: its traits typed by the plan's `groupTraits`, when it has them.
 *
 * @category models
 * @since 0.1.0
 */
export type GroupParams<P extends Any | undefined> = Untyped<P> extends true ? Message.GroupParams
  : P extends TrackingPlan<any, any, infer G, any> ? TraitsParams<Message.GroupParams, G>
  : Message.GroupParams

// -----------------------------------------------------------------------------
// Checking calls at run time
// -----------------------------------------------------------------------------

/** Decodes a call's `properties` or `traits` with a plan's Schema: the decoded value is what is sent. */
const decode = (
  type: Message.CallType,
  call: Message.NormalizedCall,
  field: "properties" | "traits",
  decoder: ReturnType<typeof SchemaParser.decodeUnknownResult>
): Result.Result<Message.NormalizedCall, ValidationError> => {
  const decoded = decoder(call[field] ?? {})
  if (Result.isFailure(decoded)) return Result.fail(validationErrorOf(type, decoded.failure, field))
  return Result.succeed({ ...call, [field]: decoded.success })
}

/**
 * A check of valid calls against the plan, for the client's encoder: `properties` of a planned event and the traits
 * of `identify` and `group` are decoded by the plan's Schemas, and the decoded values replace the caller's.
 *
 * @category constructors
 * @since 0.1.0
 */
export const checker = (
  plan: Any
): (type: Message.CallType, call: Message.NormalizedCall) => Result.Result<Message.NormalizedCall, ValidationError> => {
  const names = Object.keys(plan.events)
  const decoders = new Map<string, ReturnType<typeof SchemaParser.decodeUnknownResult>>(
    names.map((name) => [name, SchemaParser.decodeUnknownResult(plan.events[name] as PropertiesSchema)])
  )
  const traits = plan.traits === undefined ? undefined : SchemaParser.decodeUnknownResult(plan.traits)
  const groupTraits = plan.groupTraits === undefined ? undefined : SchemaParser.decodeUnknownResult(plan.groupTraits)

  return (type, call) => {
    switch (type) {
      case "track": {
        const decoder = decoders.get(call.event!)
        if (decoder !== undefined) return decode(type, call, "properties", decoder)
        if (plan.unknownEvents === "allow") return Result.succeed(call)
        const meant = nearest(call.event!, names)
        return Result.fail(
          new ValidationError({
            call: type,
            field: "event",
            rule: `"${call.event}" is not an event of the tracking plan${
              meant === undefined ? "" : ` (did you mean "${meant}"?)`
            }`
          })
        )
      }
      case "identify":
        return traits === undefined ? Result.succeed(call) : decode(type, call, "traits", traits)
      case "group":
        return groupTraits === undefined ? Result.succeed(call) : decode(type, call, "traits", groupTraits)
      default:
        return Result.succeed(call)
    }
  }
}

// -----------------------------------------------------------------------------
// JSON Schema
// -----------------------------------------------------------------------------

/** A JSON Schema rule: messages of `type` (with `extra` fields) must also satisfy `rule`. */
const when = (type: string, extra: Record<string, unknown>, rule: Record<string, unknown>) => ({
  if: { properties: { type: { const: type }, ...extra }, required: ["type", ...Object.keys(extra)] },
  // oxlint-disable-next-line unicorn/no-thenable -- `then` is the JSON Schema keyword, not a promise's
  then: rule
})

/**
 * The plan as one JSON Schema (draft 2020-12) that a sent message must satisfy: each planned event's `properties`,
 * the traits of `identify` and `group`, and (with `unknownEvents: "reject"`) the event names. Each part is also in
 * `$defs` (`event/Order Completed`, `traits`, `groupTraits`), for tools that look at one event at a time.
 *
 * @category converting
 * @since 0.1.0
 */
export const toJsonSchema = (plan: Any): Record<string, unknown> => {
  const defs: Record<string, unknown> = {}
  const add = (name: string, schema: PropertiesSchema): string => {
    const document = Schema.toJsonSchemaDocument(schema)
    Object.assign(defs, document.definitions)
    defs[name] = document.schema
    return `#/$defs/${name.replaceAll("~", "~0").replaceAll("/", "~1")}`
  }
  const rules: Array<unknown> = []
  const names = Object.keys(plan.events)
  for (const name of names) {
    const ref = add(`event/${name}`, plan.events[name] as PropertiesSchema)
    rules.push(when("track", { event: { const: name } }, { properties: { properties: { $ref: ref } } }))
  }
  if (plan.unknownEvents === "reject") {
    rules.push(when("track", {}, { properties: { event: { enum: names } } }))
  }
  if (plan.traits !== undefined) {
    rules.push(when("identify", {}, { properties: { traits: { $ref: add("traits", plan.traits) } } }))
  }
  if (plan.groupTraits !== undefined) {
    rules.push(when("group", {}, { properties: { traits: { $ref: add("groupTraits", plan.groupTraits) } } }))
  }
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Tracking plan",
    description: "The messages a client with this tracking plan sends (cdp-analytics-effect).",
    type: "object",
    allOf: rules,
    $defs: defs
  }
}
