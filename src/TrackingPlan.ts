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
import * as JsonPointer from "effect/JsonPointer"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import { ValidationError } from "./AnalyticsError.ts"
import { findJsonFault, isPlainObject } from "./internal/json.ts"
import { nearest } from "./internal/nearest.ts"
import type * as Message from "./Message.ts"
import { validationErrorOf } from "./Message.ts"

const TypeId = "~cdp-analytics-effect/TrackingPlan"

/**
 * A Schema the plan can run: no services to decode with, and an object on both sides (what callers pass, and what
 * it decodes to and is sent as a JSON object), as `Schema.Struct` and `Schema.Record` are.
 *
 * @category models
 * @since 0.1.0
 */
export type PropertiesSchema = Schema.Codec<
  { readonly [key: string]: any },
  { readonly [key: string]: any },
  never,
  any
>

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

/** A field typed by a Schema: optional when the Schema takes an empty object (every key optional). */
type Field<K extends string, S> = {} extends Input<S> ? { readonly [_ in K]?: Input<S> | undefined }
  : { readonly [_ in K]: Input<S> }

/**
 * The params of `track` under a plan, for the event `E`: the event's own properties type (optional when every
 * property is), or (with `unknownEvents: "allow"`), for an event the plan does not name, any properties. Without a
 * plan, `Message.TrackParams`.
 *
 * @category models
 * @since 0.1.0
 */
export type TrackParams<P extends Any | undefined, E extends string> = Untyped<P> extends true ? Message.TrackParams
  : E extends keyof EventsOf<P> ?
      & WithoutKeys<Message.TrackParams, "event" | "properties">
      & { readonly event: E }
      & Field<"properties", EventsOf<P>[E]>
  : UnknownOf<P> extends "allow" ? Message.TrackParams & { readonly event: E }
  : never

type TraitsParams<Base, S> = [S] extends [undefined] ? Base
  : WithoutKeys<Base, "traits"> & Field<"traits", S>

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

type Decoder = (input: unknown) => Result.Result<unknown, SchemaIssue.Issue>

/**
 * Decodes a call's `properties` or `traits` with a plan's Schema: the decoded value is what is sent, so it must be
 * a JSON object as a caller's own must (a transformation may yield `NaN`, which JSON would send as `null`).
 */
const decode = (
  type: Message.CallType,
  call: Message.NormalizedCall,
  field: "properties" | "traits",
  decoder: Decoder
): Result.Result<Message.NormalizedCall, ValidationError> => {
  const decoded = decoder(call[field] ?? {})
  if (Result.isFailure(decoded)) return Result.fail(validationErrorOf(type, decoded.failure, field))
  const value = decoded.success
  const bad = isPlainObject(value) ? findJsonFault(value) : { path: [], rule: "must be a plain object" }
  if (bad !== undefined) {
    return Result.fail(
      new ValidationError({
        call: type,
        field: [field, ...bad.path.map(String)].join("."),
        rule: `${bad.rule} (as the tracking plan's Schema decoded it)`
      })
    )
  }
  return Result.succeed({ ...call, [field]: value })
}

/** The decoders of one side: a caller's params (the Schemas' encoded side), or a message as sent (see `checker`). */
interface Decoders {
  readonly events: ReadonlyMap<string, Decoder>
  readonly traits: Decoder | undefined
  readonly groupTraits: Decoder | undefined
}

/**
 * A number's JSON form also admits the strings "Infinity", "-Infinity" and "NaN", so a message with `"12"` where the
 * plan wants a number would be told `Expected "Infinity" | "-Infinity" | "NaN"`. JSON as sent never holds those
 * strings for a number: the issue becomes the one the plan's own Schema gives, `Expected number`.
 */
const asSentIssue = (issue: SchemaIssue.Issue): SchemaIssue.Issue => {
  switch (issue._tag) {
    case "Encoding":
      return issue.ast._tag === "Number" && issue.issue._tag === "AnyOf"
        ? new SchemaIssue.InvalidType(issue.ast)
        : issue
    case "Pointer":
      return new SchemaIssue.Pointer(issue.path, asSentIssue(issue.issue))
    case "Composite":
      return new SchemaIssue.Composite(issue.ast, [
        asSentIssue(issue.issues[0]),
        ...issue.issues.slice(1).map(asSentIssue)
      ])
    case "AnyOf":
      return new SchemaIssue.AnyOf(issue.ast, issue.issues.map(asSentIssue))
    default:
      return issue
  }
}

const decodersOf = (plan: Any, side: "params" | "message"): Decoders => {
  const decoder = (schema: PropertiesSchema): Decoder => {
    if (side === "params") return SchemaParser.decodeUnknownResult(schema)
    const fromJson = SchemaParser.decodeUnknownResult(Schema.toCodecJson(Schema.toType(schema)) as PropertiesSchema)
    return (input) => Result.mapError(fromJson(input), asSentIssue)
  }
  return {
    events: new Map(Object.keys(plan.events).map((name) => [name, decoder(plan.events[name] as PropertiesSchema)])),
    traits: plan.traits === undefined ? undefined : decoder(plan.traits),
    groupTraits: plan.groupTraits === undefined ? undefined : decoder(plan.groupTraits)
  }
}

/**
 * A check of valid calls against the plan, for the client's encoder: `properties` of a planned event and the traits
 * of `identify` and `group` are decoded by the plan's Schemas, and the decoded values replace the caller's.
 *
 * A message `beforeSend` returned (`from: "message"`) already carries decoded values, as JSON sends them (a `Date`
 * as its ISO string): it is checked against the Schemas' decoded side, read from JSON (`Schema.toType`, then
 * `Schema.toCodecJson`), so a plan's transformation is not applied twice.
 *
 * @category constructors
 * @since 0.1.0
 */
export const checker = (
  plan: Any
): (
  type: Message.CallType,
  call: Message.NormalizedCall,
  from: "params" | "message"
) => Result.Result<Message.NormalizedCall, ValidationError> => {
  const names = Object.keys(plan.events)
  const params = decodersOf(plan, "params")
  const messages = decodersOf(plan, "message")

  return (type, call, from) => {
    const decoders = from === "params" ? params : messages
    switch (type) {
      case "track": {
        const decoder = decoders.events.get(call.event!)
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
        return decoders.traits === undefined ? Result.succeed(call) : decode(type, call, "traits", decoders.traits)
      case "group":
        return decoders.groupTraits === undefined
          ? Result.succeed(call)
          : decode(type, call, "traits", decoders.groupTraits)
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

/** A `$ref` to `$defs` entries, a JSON Pointer in a URI fragment, as Effect writes its own. */
const pointerTo = (...keys: ReadonlyArray<string>): string =>
  `#/$defs/${keys.map((key) => encodeURI(JsonPointer.escapeToken(key)).replaceAll("#", "%23")).join("/$defs/")}`

// Keywords whose values are data, not schemas: a `$ref` key in them is not a reference.
const dataKeywords = new Set(["const", "enum", "default", "examples"])

/** Points the document's `$ref`s to `#/$defs/X` at the part's own `$defs` instead (`#/$defs/<part>/$defs/X`). */
const rebase = (node: unknown, part: string): unknown => {
  if (Array.isArray(node)) return node.map((item) => rebase(item, part))
  if (typeof node !== "object" || node === null) return node
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(node)) {
    out[key] = key === "$ref" && typeof value === "string" && value.startsWith("#/$defs/")
      ? `${pointerTo(part)}/$defs/${value.slice("#/$defs/".length)}`
      : dataKeywords.has(key)
      ? value
      : rebase(value, part)
  }
  return out
}

/**
 * The plan as one JSON Schema (draft 2020-12) that a sent message must satisfy: each planned event's `properties`,
 * the traits of `identify` and `group`, and (with `unknownEvents: "reject"`) the event names. Each part is also in
 * `$defs` (`event/Order Completed`, `traits`, `groupTraits`), for tools that look at one event at a time.
 *
 * **Details**
 *
 * A part describes what is sent, which is what the plan's Schemas decode (`Schema.toType`), as JSON: a
 * `Schema.NumberFromString` property is a number, a `Schema.DateFromString` one a string. The definitions a part's
 * Schema names (`identifier` annotations) are kept in that part's own `$defs`, so two events may name theirs alike.
 *
 * @category converting
 * @since 0.1.0
 */
export const toJsonSchema = (plan: Any): Record<string, unknown> => {
  const defs: Record<string, unknown> = {}
  const add = (name: string, schema: PropertiesSchema): string => {
    const document = Schema.toJsonSchemaDocument(Schema.toType(schema))
    const definitions = Object.keys(document.definitions).length === 0 ? {} : { $defs: document.definitions }
    defs[name] = rebase({ ...document.schema, ...definitions }, name)
    return pointerTo(name)
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
