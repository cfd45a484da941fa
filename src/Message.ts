/**
 * The six calls of the Pipelines API (`identify`, `track`, `page`, `screen`, `group`, `alias`): the params users
 * write, the Schemas that validate and normalize them, and the encoder that turns a call into the exact JSON sent
 * on the wire together with its size in UTF-8 bytes.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import type * as Random from "effect/Random"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { MessageTooLarge, ValidationError } from "./AnalyticsError.ts"
import * as FastDecoder from "./internal/fastDecoder.ts"
import { checkIntegrations, checkJsonObject, describeError, isPlainObject } from "./internal/json.ts"
import { nearest } from "./internal/nearest.ts"
import { libraryName, libraryVersion } from "./internal/version.ts"

// -----------------------------------------------------------------------------
// Limits
// -----------------------------------------------------------------------------

/**
 * @category models
 * @since 0.1.0
 */
export type CallType = "identify" | "track" | "page" | "screen" | "group" | "alias"

/**
 * @category models
 * @since 0.1.0
 */
export const callTypes: ReadonlyArray<CallType> = ["identify", "track", "page", "screen", "group", "alias"]

/**
 * The largest encoded message the API accepts: UTF-8 bytes of its JSON.
 *
 * @category constants
 * @since 0.1.0
 */
export const MAX_MESSAGE_BYTES = 32 * 1024

/**
 * The largest request body the API accepts.
 *
 * @category constants
 * @since 0.1.0
 */
export const MAX_BATCH_BYTES = 500 * 1024

// -----------------------------------------------------------------------------
// Params (what users write)
// -----------------------------------------------------------------------------

/**
 * Destinations to turn on or off for one call. `All: false` disables every destination not listed as `true`.
 *
 * @category params
 * @since 0.1.0
 */
export interface Integrations {
  All?: boolean | undefined
  [integration: string]: boolean | Record<string, any> | undefined
}

/**
 * Extra context sent with a call. `ip` is used for geolocation; `library` is always replaced by this package's own.
 *
 * @category params
 * @since 0.1.0
 */
export interface ExtraContext {
  ip?: string | undefined
  locale?: string | undefined
  timezone?: string | undefined
  userAgent?: string | undefined
  page?: {
    path?: string | undefined
    referrer?: string | undefined
    search?: string | undefined
    title?: string | undefined
    url?: string | undefined
  } | undefined
  traits?: Record<string, any> | undefined
  [key: string]: any
}

/**
 * Fields every call accepts.
 *
 * @category params
 * @since 0.1.0
 */
export interface CommonParams {
  userId?: string | number | undefined
  anonymousId?: string | number | undefined
  context?: ExtraContext | undefined
  integrations?: Integrations | undefined
  /** When the call happened (backfill). Defaults to the time of the call. */
  timestamp?: Date | string | undefined
  /** Kept as given so retries and re-sends can be de-duplicated; a UUID v4 when absent. */
  messageId?: string | undefined
}

/**
 * Who a call is about: a `userId`, an `anonymousId`, or both, as Segment's `IdentityOptions`. Leaving both out is a
 * type error (and, from plain JavaScript, a `ValidationError`).
 *
 * @category params
 * @since 0.1.0
 */
export type Identity =
  | { userId: string | number; anonymousId?: string | number | undefined }
  | { userId?: string | number | undefined; anonymousId: string | number }

/**
 * @category params
 * @since 0.1.0
 */
export type IdentifyParams = CommonParams & Identity & {
  traits?: Record<string, any> | undefined
}

/**
 * @category params
 * @since 0.1.0
 */
export type TrackParams = CommonParams & Identity & {
  event: string
  properties?: Record<string, any> | undefined
}

/**
 * @category params
 * @since 0.1.0
 */
export type PageParams = CommonParams & Identity & {
  name?: string | undefined
  category?: string | undefined
  properties?: Record<string, any> | undefined
}

/**
 * @category params
 * @since 0.1.0
 */
export type ScreenParams = CommonParams & Identity & {
  name?: string | undefined
  /** Sent as the message's top-level `category` (unlike `page`, not copied into `properties`). */
  category?: string | undefined
  properties?: Record<string, any> | undefined
}

/**
 * A `group` call may name no person: `userId` and `anonymousId` are both optional.
 *
 * @category params
 * @since 0.1.0
 */
export interface GroupParams extends CommonParams {
  groupId: string | number
  /** `traits.objectTypeId` picks the Customer.io object type (1 when absent). */
  traits?: Record<string, any> | undefined
}

/**
 * @category params
 * @since 0.1.0
 */
export interface AliasParams extends CommonParams {
  previousId: string | number
  userId: string | number
}

/**
 * @category params
 * @since 0.1.0
 */
export interface ParamsByType {
  identify: IdentifyParams
  track: TrackParams
  page: PageParams
  screen: ScreenParams
  group: GroupParams
  alias: AliasParams
}

// -----------------------------------------------------------------------------
// Field schemas
// -----------------------------------------------------------------------------

// Each field's predicates are named so the fast path below can run exactly the same ones as its Schema.

const nonEmpty = (s: string): true | string => s.length > 0 || "must be a non-empty string"

const isId = (u: unknown): u is string | number =>
  typeof u === "string" ? u.length > 0 : typeof u === "number" && Number.isFinite(u)

// Past 1e21 String(n) switches to exponent notation, which is not an id anyone stored.
const idToString = (id: string | number): string =>
  typeof id === "string" ? id : Number.isInteger(id) && Math.abs(id) >= 1e21 ? BigInt(id).toString() : String(id)

const isoDateTime = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/

const daysIn = (year: number, month: number): number =>
  month === 2
    ? (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28)
    : month === 4 || month === 6 || month === 9 || month === 11
    ? 30
    : 31

// Date.parse alone rolls "2024-02-30" over into March, so the fields are range-checked first. A date-time without
// an offset is read as UTC, not as the host's local time, so the result does not depend on where the process runs.
const parseIso = (s: string): number => {
  const m = isoDateTime.exec(s)
  if (m === null) return NaN
  const year = Number(m[1])
  const month = Number(m[2])
  const day = Number(m[3])
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return NaN
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || (m[6] !== undefined && Number(m[6]) > 59))) {
    return NaN
  }
  return Date.parse(m[4] !== undefined && m[7] === undefined ? `${s}Z` : s)
}

const isTimestampInput = (u: unknown): u is Date | string => u instanceof Date || typeof u === "string"

const timestampRule = (u: Date | string): true | string =>
  typeof u === "string"
    ? !Number.isNaN(parseIso(u)) || "must be an ISO-8601 date string or a Date"
    : !Number.isNaN(u.getTime()) || "must be a valid date"

const toIsoString = (u: Date | string): string =>
  typeof u === "string" ? new Date(parseIso(u)).toISOString() : u.toISOString()

const identityRule = (
  call: { readonly userId?: string | undefined; readonly anonymousId?: string | undefined }
): true | Schema.FilterIssue =>
  call.userId !== undefined || call.anonymousId !== undefined ||
  { path: ["userId"], issue: "or \"anonymousId\" is required" }

const NonEmptyString = Schema.String.check(Schema.makeFilter(nonEmpty))

const Id = Schema.declare(isId).pipe(Schema.decodeTo(Schema.String, {
  decode: SchemaGetter.transform(idToString),
  encode: SchemaGetter.passthroughSubtype()
}))

const Timestamp = Schema.declare(isTimestampInput).check(Schema.makeFilter(timestampRule)).pipe(
  Schema.decodeTo(Schema.String, {
    decode: SchemaGetter.transform(toIsoString),
    encode: SchemaGetter.passthroughSubtype()
  })
)

// The values are checked to serialize to JSON as given; Dates and toJSON objects are left for JSON.stringify.
const PlainObject = Schema.declare((u): u is Schema.JsonObject => isPlainObject(u))

const JsonObjectField = PlainObject.check(Schema.makeFilter(checkJsonObject))

const IntegrationsField = PlainObject.check(Schema.makeFilter(checkIntegrations))

const hasIdentity = Schema.makeFilter(identityRule)

// What a wrong type at a top-level field means, whatever the issue Schema reports for it (InvalidType, AnyOf, …).
const fieldRules: Readonly<Record<string, string>> = {
  userId: "must be a non-empty string or a finite number",
  anonymousId: "must be a non-empty string or a finite number",
  groupId: "must be a non-empty string or a finite number",
  previousId: "must be a non-empty string or a finite number",
  event: "must be a non-empty string",
  messageId: "must be a non-empty string",
  name: "must be a string",
  category: "must be a string",
  properties: "must be a plain object",
  traits: "must be a plain object",
  context: "must be a plain object",
  integrations: "must be a plain object",
  timestamp: "must be an ISO-8601 date string or a Date"
}

// -----------------------------------------------------------------------------
// Fast path (see internal/fastDecoder.ts): each field registers the same predicates as its Schema
// -----------------------------------------------------------------------------

const { invalid, withFast } = FastDecoder

const fastId = (u: unknown): unknown => isId(u) ? idToString(u) : invalid
const fastNonEmptyString = (u: unknown): unknown => typeof u === "string" && nonEmpty(u) === true ? u : invalid
const fastString = (u: unknown): unknown => typeof u === "string" ? u : invalid
// Already as `toISOString` writes it (the usual case for backfills and serialized Dates): then, once parsed and found
// valid, it is its own normal form, and the fast path parses it once rather than twice and formats nothing.
const canonicalIso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/

const fastTimestamp = (u: unknown): unknown => {
  if (typeof u === "string") {
    const time = parseIso(u)
    if (Number.isNaN(time)) return invalid
    return canonicalIso.test(u) ? u : new Date(time).toISOString()
  }
  return u instanceof Date && !Number.isNaN(u.getTime()) ? u.toISOString() : invalid
}
const fastJsonObject = (u: unknown): unknown => isPlainObject(u) && checkJsonObject(u) === undefined ? u : invalid
const fastIntegrations = (u: unknown): unknown => isPlainObject(u) && checkIntegrations(u) === undefined ? u : invalid

const RequiredId = withFast(Id, false, fastId)
const RequiredNonEmptyString = withFast(NonEmptyString, false, fastNonEmptyString)
// An optional field given as null is absent, as in Segment's runtime: JSON APIs and ORMs hand out nulls for "no
// value". A required field given as null is still refused.
const optionalOrNull = <S extends Schema.Top>(schema: S) =>
  Schema.optional(Schema.NullOr(schema)).pipe(Schema.decodeTo(
    Schema.optional(Schema.toType(schema)),
    SchemaTransformation.transformOptional({
      decode: (value) => Option.filter(value, (v) => v !== null) as Option.Option<S["Type"] | undefined>,
      encode: (value) => value
    })
  ))

const OptionalId = withFast(optionalOrNull(Id), true, fastId)
const OptionalNonEmptyString = withFast(optionalOrNull(NonEmptyString), true, fastNonEmptyString)
const OptionalString = withFast(optionalOrNull(Schema.String), true, fastString)
const OptionalTimestamp = withFast(optionalOrNull(Timestamp), true, fastTimestamp)
const OptionalJsonObject = withFast(optionalOrNull(JsonObjectField), true, fastJsonObject)
const OptionalIntegrations = withFast(optionalOrNull(IntegrationsField), true, fastIntegrations)

FastDecoder.withCheck(hasIdentity, (call) => identityRule(call) === true)

// -----------------------------------------------------------------------------
// Call schemas
// -----------------------------------------------------------------------------

const common = {
  userId: OptionalId,
  anonymousId: OptionalId,
  context: OptionalJsonObject,
  integrations: OptionalIntegrations,
  timestamp: OptionalTimestamp,
  messageId: OptionalNonEmptyString
}

/**
 * Decodes `identify` params: `userId` or `anonymousId`, optional `traits`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Identify = Schema.Struct({
  ...common,
  traits: OptionalJsonObject
}).check(hasIdentity)

/**
 * A decoded `identify` call: ids as strings, `timestamp` as an ISO string, unknown keys dropped.
 *
 * @category models
 * @since 0.1.0
 */
export type Identify = typeof Identify.Type

/**
 * Decodes `track` params: `userId` or `anonymousId` and a non-empty `event`, optional `properties`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Track = Schema.Struct({
  ...common,
  event: RequiredNonEmptyString,
  properties: OptionalJsonObject
}).check(hasIdentity)

/**
 * A decoded `track` call: ids as strings, `timestamp` as an ISO string, unknown keys dropped.
 *
 * @category models
 * @since 0.1.0
 */
export type Track = typeof Track.Type

const PageInput = Schema.Struct({
  ...common,
  name: OptionalString,
  category: OptionalString,
  properties: OptionalJsonObject
}).check(hasIdentity)

// The decoded side is only re-checked for shape: the input side already walked every value.
const PageCall = Schema.Struct({
  userId: Schema.optional(Schema.String),
  anonymousId: Schema.optional(Schema.String),
  context: Schema.optional(PlainObject),
  integrations: Schema.optional(PlainObject),
  timestamp: Schema.optional(Schema.String),
  messageId: Schema.optional(Schema.String),
  name: Schema.optional(Schema.String),
  category: Schema.optional(Schema.String),
  properties: Schema.optional(PlainObject)
})

const copyCategory = <P extends { readonly category?: string | undefined; readonly properties?: object | undefined }>(
  page: P
): P => page.category === undefined ? page : { ...page, properties: { ...page.properties, category: page.category } }

/**
 * Decodes `page` params: `userId` or `anonymousId`, optional `name`, `category` and `properties`. `category` is also
 * copied into `properties.category` (as the Segment libraries do), into a new object: the caller's `properties` is
 * left untouched.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Page = PageInput.pipe(Schema.decodeTo(PageCall, {
  decode: SchemaGetter.transform(copyCategory),
  encode: SchemaGetter.passthrough()
}))

/**
 * A decoded `page` call: ids as strings, `timestamp` as an ISO string, unknown keys dropped.
 *
 * @category models
 * @since 0.1.0
 */
export type Page = typeof Page.Type

/**
 * Decodes `screen` params: `userId` or `anonymousId`, optional `name`, `category` and `properties`. `category` is
 * sent top-level only: Segment's libraries copy it into `properties` for `page`, not for `screen`.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Screen = Schema.Struct({
  ...common,
  name: OptionalString,
  category: OptionalString,
  properties: OptionalJsonObject
}).check(hasIdentity)

/**
 * A decoded `screen` call: ids as strings, `timestamp` as an ISO string, unknown keys dropped.
 *
 * @category models
 * @since 0.1.0
 */
export type Screen = typeof Screen.Type

/**
 * Decodes `group` params: a `groupId`, optional `traits` (`traits.objectTypeId` picks the Customer.io object type).
 *
 * @category schemas
 * @since 0.1.0
 */
export const Group = Schema.Struct({
  ...common,
  groupId: RequiredId,
  traits: OptionalJsonObject
})

/**
 * A decoded `group` call: ids as strings, `timestamp` as an ISO string, unknown keys dropped.
 *
 * @category models
 * @since 0.1.0
 */
export type Group = typeof Group.Type

/**
 * Decodes `alias` params: `previousId` and `userId`, both required.
 *
 * @category schemas
 * @since 0.1.0
 */
export const Alias = Schema.Struct({
  ...common,
  previousId: RequiredId,
  userId: RequiredId
})

/**
 * A decoded `alias` call: ids as strings, `timestamp` as an ISO string, unknown keys dropped.
 *
 * @category models
 * @since 0.1.0
 */
export type Alias = typeof Alias.Type

/**
 * The Schema of each call, by call type.
 *
 * @category schemas
 * @since 0.1.0
 */
export const schemas = {
  identify: Identify,
  track: Track,
  page: Page,
  screen: Screen,
  group: Group,
  alias: Alias
} as const satisfies { readonly [K in CallType]: Schema.Decoder<unknown> }

interface Decoder {
  readonly fast: FastDecoder.FastDecoder
  readonly parse: (input: unknown) => Result.Result<FastDecoder.NormalizedCall, SchemaIssue.Issue>
}

// Built once: a parser per call is the expensive part of Schema's setup.
const decoders: { readonly [K in CallType]: Decoder } = {
  identify: { fast: FastDecoder.makeFastDecoder(Identify), parse: SchemaParser.decodeUnknownResult(Identify) },
  track: { fast: FastDecoder.makeFastDecoder(Track), parse: SchemaParser.decodeUnknownResult(Track) },
  page: { fast: FastDecoder.makeFastDecoder(PageInput, copyCategory), parse: SchemaParser.decodeUnknownResult(Page) },
  screen: { fast: FastDecoder.makeFastDecoder(Screen), parse: SchemaParser.decodeUnknownResult(Screen) },
  group: { fast: FastDecoder.makeFastDecoder(Group), parse: SchemaParser.decodeUnknownResult(Group) },
  alias: { fast: FastDecoder.makeFastDecoder(Alias), parse: SchemaParser.decodeUnknownResult(Alias) }
}

// Follows the first issue down to its leaf: the path is the field, the leaf (or our own filter message) the rule.
const toValidationError = (call: CallType, issue: SchemaIssue.Issue): ValidationError => {
  const path: Array<PropertyKey> = []
  let current: SchemaIssue.Issue = issue
  let rule: string | undefined
  for (;;) {
    switch (current._tag) {
      case "Pointer": {
        path.push(...current.path)
        current = current.issue
        continue
      }
      case "Composite": {
        current = current.issues[0]
        continue
      }
      case "Filter":
      case "Encoding": {
        current = current.issue
        continue
      }
      case "AnyOf": {
        // An optional field is a union with undefined: descend into the member that was tried.
        if (current.issues.length > 0) {
          current = current.issues[0]!
          continue
        }
        break
      }
      case "InvalidValue": {
        rule = current.annotations?.message
        break
      }
      case "MissingKey": {
        rule = "is required"
        break
      }
    }
    break
  }
  if (rule === undefined) {
    rule = path.length === 0 ? "params must be an object" : fieldRules[String(path[0])] ?? "is invalid"
  }
  return new ValidationError({ call, field: path.map(String).join("."), rule })
}

// -----------------------------------------------------------------------------
// Wire message
// -----------------------------------------------------------------------------

/**
 * The message exactly as sent in a batch (CONTRACT §3).
 *
 * **Gotchas**
 *
 * `properties`, `traits` and values inside `context` are the caller's own objects, not copies; `Date`s and
 * `toJSON` objects inside them appear in `json` as JSON.stringify renders them. `json` is what is sent. A
 * `beforeSend` is given a copy parsed from that JSON, so what it changes is never the caller's.
 *
 * @category models
 * @since 0.1.0
 */
export interface WireMessage {
  readonly type: CallType
  readonly messageId: string
  readonly timestamp: string
  readonly userId?: string
  readonly anonymousId?: string
  readonly event?: string
  readonly name?: string
  readonly category?: string
  readonly properties?: Schema.JsonObject
  readonly traits?: Schema.JsonObject
  readonly groupId?: string
  readonly previousId?: string
  readonly integrations: Schema.JsonObject
  readonly context: Schema.JsonObject & { readonly library: { readonly name: string; readonly version: string } }
  readonly _metadata: { readonly nodeVersion?: string; readonly jsRuntime: string }
}

/**
 * A validated message, its JSON (built once) and the UTF-8 byte size of that JSON.
 *
 * @category models
 * @since 0.1.0
 */
export interface Encoded {
  readonly message: WireMessage
  readonly json: string
  readonly bytes: number
}

/**
 * Where the encoder gets the time and message ids: from `Clock` and `Random` in the client, fixed in tests.
 *
 * @category models
 * @since 0.1.0
 */
export interface EncodeEnvironment {
  /** epoch milliseconds */
  readonly now: () => number
  readonly uuid: () => string
  /**
   * Larger messages fail with `MessageTooLarge`; `Infinity` only measures them.
   * @default MAX_MESSAGE_BYTES
   */
  readonly maxMessageBytes?: number | undefined
  /** A params key the call type does not have fails the call with a `ValidationError` naming it. @default false */
  readonly strictParams?: boolean | undefined
  /** Told about each params key the call type does not have (dropped from the message), with what was probably meant. */
  readonly onUnknownKey?: ((call: CallType, key: string, meant: string | undefined) => void) | undefined
  /**
   * Checks a valid call further, and may replace what it carries (a tracking plan decodes `properties` or `traits`
   * with its own Schemas): the call it returns is what is sent. `from` says what the call was read from: a caller's
   * params, or a message as it is sent (what `beforeSend` returned, see {@link makeRebuilder}).
   */
  readonly checkCall?:
    | ((
      type: CallType,
      call: NormalizedCall,
      from: "params" | "message"
    ) => Result.Result<NormalizedCall, ValidationError>)
    | undefined
}

/**
 * A call after validation: its ids are strings, its timestamp an ISO string.
 *
 * @category models
 * @since 0.1.0
 */
export type NormalizedCall = FastDecoder.NormalizedCall

// Typed loosely on purpose: only what is probed, so no runtime's typings leak into this module's API.
interface RuntimeGlobals {
  readonly process?: { readonly versions?: { readonly node?: unknown } | undefined } | undefined
  readonly navigator?: { readonly userAgent?: unknown } | undefined
  readonly Bun?: unknown
  readonly Deno?: unknown
  readonly EdgeRuntime?: unknown
  readonly WebSocketPair?: unknown
  readonly WorkerGlobalScope?: unknown
  readonly importScripts?: unknown
}

const runtimeGlobals: RuntimeGlobals = globalThis

// Bun, Deno and edge runtimes also expose a Node-compatible `process`, so they are recognized before Node.
const jsRuntime: string = runtimeGlobals.Bun !== undefined
  ? "bun"
  : runtimeGlobals.Deno !== undefined
  ? "deno"
  : typeof runtimeGlobals.EdgeRuntime === "string"
  ? "vercel-edge"
  : runtimeGlobals.navigator?.userAgent === "Cloudflare-Workers" || runtimeGlobals.WebSocketPair !== undefined
  ? "cloudflare-worker"
  : typeof runtimeGlobals.process?.versions?.node === "string"
  ? "node"
  : runtimeGlobals.WorkerGlobalScope !== undefined && typeof runtimeGlobals.importScripts === "function"
  ? "web-worker"
  : "unknown"

const nodeVersion = runtimeGlobals.process?.versions?.node

const metadata: WireMessage["_metadata"] = Object.freeze(
  typeof nodeVersion === "string" ? { nodeVersion, jsRuntime } : { jsRuntime }
)

const library = Object.freeze({ name: libraryName, version: libraryVersion })

const emptyIntegrations: Schema.JsonObject = Object.freeze({})

// What the original library sends when the caller leaves these out (`@customerio/cdp-analytics-node` 0.5.9): an
// empty object, never an absent key. Each message gets its own, as the caller's would be.
const defaultsOf: { readonly [K in CallType]: { readonly properties: boolean; readonly traits: boolean } } = {
  identify: { properties: false, traits: true },
  track: { properties: true, traits: false },
  page: { properties: true, traits: false },
  screen: { properties: true, traits: false },
  group: { properties: false, traits: true },
  alias: { properties: false, traits: false }
}

type MutableWireMessage = { -readonly [K in keyof WireMessage]: WireMessage[K] }

/**
 * Builds the encoder used on every call.
 *
 * **When to use**
 *
 * The client builds one with its `Clock` and `Random`; call it directly in tests or tools that need the exact wire
 * form of a call.
 *
 * **Details**
 *
 * Synchronous and allocation-light: validates `params` with the call's Schema, builds the {@link WireMessage},
 * serializes it once and measures it. It never throws: a rejected call is a `ValidationError` naming the field, a
 * message over {@link MAX_MESSAGE_BYTES} a `MessageTooLarge`.
 *
 * **Gotchas**
 *
 * Getters and `toJSON` methods in the caller's data run twice, once to validate and once to serialize: they
 * should return the same thing both times.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeEncoder = (env: EncodeEnvironment) => {
  // Calls arrive in bursts within the same millisecond: format that instant once.
  let lastMillis = NaN
  let lastIso = ""
  const isoNow = (): string => {
    const millis = env.now()
    if (millis !== lastMillis) {
      lastIso = new Date(millis).toISOString()
      lastMillis = millis
    }
    return lastIso
  }

  const maxBytes = env.maxMessageBytes ?? MAX_MESSAGE_BYTES
  const build = makeBuilder(env, isoNow)
  return (type: CallType, params: unknown): Result.Result<Encoded, ValidationError | MessageTooLarge> => {
    const built = build(type, params)
    return Result.isFailure(built) ? Result.fail(built.failure) : serialize(built.success, maxBytes)
  }
}

// Builds a wire message from a call's params, or from a message `beforeSend` returned: the same steps for both.
const makeAssembler = (env: EncodeEnvironment, isoNow: () => string = () => new Date(env.now()).toISOString()) => {
  const checkKeys = env.strictParams === true || env.onUnknownKey !== undefined
  return (type: CallType, params: unknown, from: "params" | "message"): Result.Result<WireMessage, ValidationError> => {
    const decoder = decoders[type]
    if (decoder === undefined) {
      return Result.fail(new ValidationError({ call: String(type), field: "", rule: "is not a known call type" }))
    }
    try {
      let call = decoder.fast(params)
      if (call === undefined) {
        FastDecoder.slowPath.count++
        const decoded = decoder.parse(params)
        if (Result.isFailure(decoded)) return Result.fail(toValidationError(type, decoded.failure))
        call = decoded.success
      }
      if (checkKeys) {
        const unknown = unknownKey(type, params as Record<string, unknown>, env)
        if (unknown !== undefined) return Result.fail(unknown)
      }
      if (env.checkCall !== undefined) {
        const checked = env.checkCall(type, call, from)
        if (Result.isFailure(checked)) return Result.fail(checked.failure)
        call = checked.success
      }
      const message: MutableWireMessage = {
        type,
        messageId: call.messageId ?? env.uuid(),
        timestamp: call.timestamp ?? isoNow(),
        integrations: call.integrations ?? emptyIntegrations,
        context: { ...call.context, library },
        _metadata: metadata
      }
      if (call.userId !== undefined) message.userId = call.userId
      if (call.anonymousId !== undefined) message.anonymousId = call.anonymousId
      if (call.event !== undefined) message.event = call.event
      if (call.name !== undefined) message.name = call.name
      if (call.category !== undefined) message.category = call.category
      if (call.groupId !== undefined) message.groupId = call.groupId
      if (call.previousId !== undefined) message.previousId = call.previousId
      const defaults = defaultsOf[type]
      if (call.properties !== undefined) message.properties = call.properties
      else if (defaults.properties) message.properties = {}
      if (call.traits !== undefined) message.traits = call.traits
      else if (defaults.traits) message.traits = {}
      return Result.succeed(message)
    } catch (error) {
      // A getter, Proxy trap or toJSON of the caller's data threw (the walk reports those it reaches with their path)
      return Result.fail(
        new ValidationError({ call: type, field: "", rule: `params could not be read: ${describeError(error)}` })
      )
    }
  }
}

/**
 * Validates a call and builds its wire message (with its `messageId` and `timestamp`), without serializing it: for
 * a client that lets `beforeSend` change the message before it is rebuilt ({@link makeRebuilder}) and serialized
 * ({@link serialize}).
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeBuilder = (
  env: EncodeEnvironment,
  isoNow?: () => string
): (type: CallType, params: unknown) => Result.Result<WireMessage, ValidationError> => {
  const assemble = makeAssembler(env, isoNow)
  return (type, params) => assemble(type, params, "params")
}

/**
 * Rebuilds a message that user code (`beforeSend`) returned, exactly as {@link makeBuilder} builds a call from its
 * params: it must keep its `type` and a non-empty `messageId`; the keys of its call type are checked and normalized
 * (a numeric `userId` becomes a string, a `Date` timestamp an ISO string, an absent one the time of the rebuild), any
 * other key is dropped, the tracking plan (`checkCall`) is applied again, and `library` and `_metadata` are this
 * package's own. A failure names the field.
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeRebuilder = (
  env: EncodeEnvironment,
  isoNow?: () => string
): (type: CallType, message: unknown) => Result.Result<WireMessage, ValidationError> => {
  const assemble = makeAssembler({ ...env, strictParams: false, onUnknownKey: undefined }, isoNow)
  return (type, message) => {
    if (!isPlainObject(message) || message.type !== type) {
      return Result.fail(new ValidationError({ call: type, field: "type", rule: `must stay "${type}"` }))
    }
    if (typeof message.messageId !== "string" || message.messageId === "") {
      return Result.fail(new ValidationError({ call: type, field: "messageId", rule: "must be a non-empty string" }))
    }
    return assemble(type, message, "message")
  }
}

/**
 * Serializes a built message and measures it; over `maxBytes` it fails with `MessageTooLarge`.
 *
 * @category constructors
 * @since 0.1.0
 */
export const serialize = (
  message: WireMessage,
  maxBytes: number = MAX_MESSAGE_BYTES
): Result.Result<Encoded, ValidationError | MessageTooLarge> => {
  try {
    const json = JSON.stringify(message)
    const bytes = utf8Length(json)
    if (bytes > maxBytes) return Result.fail(new MessageTooLarge({ call: message.type, size: bytes, limit: maxBytes }))
    return Result.succeed({ message, json, bytes })
  } catch (error) {
    // A toJSON of the caller's data threw, or a value cannot be JSON (a bigint a plan's Schema decoded to).
    return Result.fail(
      new ValidationError({
        call: message.type,
        field: "",
        rule: `the message could not be serialized: ${describeError(error)}`
      })
    )
  }
}

/**
 * The `ValidationError` of a Schema issue, its field the issue's path after `prefix` (`properties.revenue`).
 *
 * @category utils
 * @since 0.1.0
 */
export const validationErrorOf = (call: CallType, issue: SchemaIssue.Issue, prefix: string): ValidationError => {
  const error = toValidationError(call, issue)
  const field = error.field === "" ? prefix : `${prefix}.${error.field}`
  // The plan's Schema knows nothing of this module's rules per field: its own message is the rule.
  const rule = error.rule === "is invalid" || error.rule === "params must be an object"
    ? SchemaIssue.makeFormatterDefault()(issue).split("\n")[0]!
    : error.rule
  return new ValidationError({ call, field, rule })
}

// The keys each call type has. Struct decoding drops any other key silently, so they are looked for here.
const keysOf: { readonly [K in CallType]: ReadonlyArray<string> } = {
  identify: Object.keys(Identify.fields),
  track: Object.keys(Track.fields),
  page: Object.keys(PageInput.fields),
  screen: Object.keys(Screen.fields),
  group: Object.keys(Group.fields),
  alias: Object.keys(Alias.fields)
}
const knownKeys: { readonly [K in CallType]: ReadonlySet<string> } = {
  identify: new Set(keysOf.identify),
  track: new Set(keysOf.track),
  page: new Set(keysOf.page),
  screen: new Set(keysOf.screen),
  group: new Set(keysOf.group),
  alias: new Set(keysOf.alias)
}

/** Reports every unknown key (or, with `strictParams`, refuses the first); valid params have none, at little cost. */
const unknownKey = (type: CallType, params: Record<string, unknown>, env: EncodeEnvironment) => {
  const known = knownKeys[type]
  for (const key in params) {
    if (known.has(key) || !Object.hasOwn(params, key)) continue
    const meant = nearest(key, keysOf[type])
    if (env.strictParams === true) {
      const hint = meant === undefined ? "" : ` (did you mean "${meant}"?)`
      return new ValidationError({ call: type, field: key, rule: `is not a field of ${type}${hint}` })
    }
    env.onUnknownKey?.(type, key, meant)
  }
  return undefined
}

// -----------------------------------------------------------------------------
// Bytes and ids
// -----------------------------------------------------------------------------

const textEncoder = new TextEncoder()

// One scratch buffer, reused: a message within the limit measures in a single native pass.
let scratch: Uint8Array | undefined

/**
 * The exact UTF-8 byte length of a string, without `Buffer` (edge runtimes have none).
 *
 * A lone surrogate counts 3 bytes, as `TextEncoder` and `Buffer` write it (U+FFFD).
 *
 * @category utils
 * @since 0.1.0
 */
export const utf8Length = (s: string): number => {
  // encodeInto into a reused buffer is native and ~8x faster than a charCodeAt loop; it never splits a code point,
  // so longer strings are measured chunk by chunk from where the previous pass stopped.
  scratch ??= new Uint8Array(3 * MAX_MESSAGE_BYTES)
  let bytes = 0
  let offset = 0
  for (;;) {
    const { read, written } = textEncoder.encodeInto(offset === 0 ? s : s.slice(offset), scratch)
    bytes += written
    offset += read
    if (offset >= s.length) return bytes
  }
}

// Char codes of each byte's two hex digits; the id is assembled in one reused array and turned into a flat string
// at once (a chain of concatenations would leave a rope that JSON.stringify then has to flatten).
const hexDigits = "0123456789abcdef"
const hexHigh: ReadonlyArray<number> = Array.from({ length: 256 }, (_, byte) => hexDigits.charCodeAt(byte >>> 4))
const hexLow: ReadonlyArray<number> = Array.from({ length: 256 }, (_, byte) => hexDigits.charCodeAt(byte & 0x0f))
const uuidCodes: Array<number> = Array.from({ length: 36 }, () => 0x2d) // "-" stays at 8, 13, 18 and 23

const putByte = (at: number, byte: number): void => {
  uuidCodes[at] = hexHigh[byte]!
  uuidCodes[at + 1] = hexLow[byte]!
}

const TWO_POW_32 = 0x100000000
const TWO_POW_53 = 0x20000000000000

/**
 * A random (version 4, RFC 4122) UUID drawn from Effect's `Random`, so a seeded `Random` gives repeatable ids.
 *
 * **Gotchas**
 *
 * As random as the `Random` given: the default one is not cryptographically secure, which is fine for message ids
 * (the API only uses them to de-duplicate).
 *
 * @category constructors
 * @since 0.1.0
 */
export const uuidV4 = (random: Random.Random): string => {
  // Each draw holds 53 random bits: 32 low + 21 high; three draws cover the 122 random bits of a v4 UUID.
  const a = random.nextDoubleUnsafe() * TWO_POW_53
  const b = random.nextDoubleUnsafe() * TWO_POW_53
  const c = random.nextDoubleUnsafe() * TWO_POW_53
  const aLow = a >>> 0
  const aHigh = (a / TWO_POW_32) >>> 0
  const bLow = b >>> 0
  const bHigh = (b / TWO_POW_32) >>> 0
  const cLow = c >>> 0
  putByte(0, aLow >>> 24)
  putByte(2, (aLow >>> 16) & 0xff)
  putByte(4, (aLow >>> 8) & 0xff)
  putByte(6, aLow & 0xff)
  putByte(9, (aHigh >>> 8) & 0xff)
  putByte(11, aHigh & 0xff)
  putByte(14, ((bLow >>> 24) & 0x0f) | 0x40) // version 4
  putByte(16, (bLow >>> 16) & 0xff)
  putByte(19, ((bLow >>> 8) & 0x3f) | 0x80) // variant 10xx
  putByte(21, bLow & 0xff)
  putByte(24, (bHigh >>> 8) & 0xff)
  putByte(26, bHigh & 0xff)
  putByte(28, cLow >>> 24)
  putByte(30, (cLow >>> 16) & 0xff)
  putByte(32, (cLow >>> 8) & 0xff)
  putByte(34, cLow & 0xff)
  return String.fromCharCode.apply(null, uuidCodes)
}
