/**
 * The JSON check of `properties`, `traits`, `context` and `integrations`: it mirrors what `JSON.stringify` will do
 * with a value and refuses what it would silently change or drop (`NaN` → `null`, functions dropped, cycles throw),
 * so what is sent is what the caller meant. A fault carries the path of the offending value.
 */
import * as Cause from "effect/Cause"
import type * as Schema from "effect/Schema"

// The walk guards the process (stack) and the API (deeply nested payloads are rejected server-side anyway).
const MAX_DEPTH = 64

// Keys are collected while unwinding (innermost first) so the happy path allocates nothing.
interface Fault {
  readonly reversedPath: Array<PropertyKey>
  readonly rule: string
}

const fault = (rule: string, key?: PropertyKey): Fault => ({
  reversedPath: key === undefined ? [] : [key],
  rule
})

const objectPrototype = Object.prototype

// Cross-realm plain objects (vm, iframes) have another realm's Object.prototype, whose own prototype is null.
export const isPlainObject = (u: unknown): u is Record<string, unknown> => {
  if (typeof u !== "object" || u === null) return false
  const proto: unknown = Object.getPrototypeOf(u)
  return proto === objectPrototype || proto === null || (Object.getPrototypeOf(proto) === null && !Array.isArray(u))
}

const hasToJSON = (u: object): u is { toJSON: (key: string) => unknown } =>
  typeof (u as { readonly toJSON?: unknown }).toJSON === "function"

export const describeError = (error: unknown): string => {
  // Schema's synchronous adapters rethrow a defect wrapped with the Cause it died with
  const cause = error instanceof Error && Cause.isCause(error.cause) ? Cause.squash(error.cause) : error
  return cause instanceof Error ? cause.message : String(cause)
}

const unreadable = (error: unknown, key?: PropertyKey): Fault =>
  fault(`could not be read: ${describeError(error)}`, key)

// Mirrors what JSON.stringify will do with the value, refusing what it would silently change or drop (NaN → null,
// functions dropped, cycles throw) so that what is sent is what the caller meant.
const checkValue = (value: unknown, key: PropertyKey, stack: Array<object>): Fault | undefined => {
  switch (typeof value) {
    case "string":
    case "boolean":
      return undefined
    case "number":
      return Number.isFinite(value) ? undefined : fault(`must be a JSON number, got ${value}`)
    case "object":
      return value === null ? undefined : checkObject(value, key, stack)
    case "undefined":
      return fault("must be a JSON value, got undefined")
    default:
      return fault(`must be a JSON value, got a ${typeof value}`)
  }
}

const checkObject = (value: object, key: PropertyKey, stack: Array<object>): Fault | undefined => {
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? fault("must be a valid date") : undefined
  }
  if (!hasToJSON(value)) return checkContainer(value, stack)
  // JSON.stringify sends what toJSON returns (for any object, plain or not), and does not call toJSON on that again
  let json: unknown
  try {
    json = value.toJSON(String(key))
  } catch (error) {
    return unreadable(error)
  }
  return typeof json === "object" && json !== null ? checkContainer(json, stack) : checkValue(json, key, stack)
}

const checkContainer = (value: object, stack: Array<object>): Fault | undefined =>
  Array.isArray(value)
    ? within(value, stack, checkItems)
    : isPlainObject(value)
    ? within(value, stack, checkEntries)
    : fault("must be a plain object")

const within = <A extends object>(
  value: A,
  stack: Array<object>,
  check: (value: A, stack: Array<object>) => Fault | undefined
): Fault | undefined => {
  const enter = enterContainer(value, stack)
  if (enter !== undefined) return enter
  const bad = check(value, stack)
  if (bad === undefined) stack.pop()
  return bad
}

const enterContainer = (value: object, stack: Array<object>): Fault | undefined => {
  // Only ancestors are cycles: the same object reused in two branches (a DAG) serializes fine.
  if (stack.includes(value)) return fault("is a circular reference")
  if (stack.length >= MAX_DEPTH) return fault(`nests deeper than ${MAX_DEPTH} levels`)
  stack.push(value)
  return undefined
}

const checkItems = (array: ReadonlyArray<unknown>, stack: Array<object>): Fault | undefined => {
  for (let i = 0; i < array.length; i++) {
    let item: unknown
    try {
      item = array[i]
    } catch (error) {
      return unreadable(error, i)
    }
    // Unlike in objects, JSON.stringify turns undefined items into null: refused by checkValue.
    const bad = checkValue(item, i, stack)
    if (bad !== undefined) {
      bad.reversedPath.push(i)
      return bad
    }
  }
  return undefined
}

const checkEntries = (object: Record<string, unknown>, stack: Array<object>): Fault | undefined => {
  const keys = Object.keys(object)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (key === "__proto__") {
      // An own "__proto__" (JSON.parse makes them) turns into a prototype swap in naive server-side merges
      return fault("is not allowed as a key (prototype pollution)", key)
    }
    let item: unknown
    try {
      item = object[key]
    } catch (error) {
      return unreadable(error, key)
    }
    if (item === undefined) continue
    const bad = checkValue(item, key, stack)
    if (bad !== undefined) {
      bad.reversedPath.push(key)
      return bad
    }
  }
  return undefined
}

/** Where a value breaks the check (keys from the checked object down) and the rule it breaks. */
export interface JsonFault {
  readonly path: ReadonlyArray<PropertyKey>
  readonly rule: string
}

const located = (bad: Fault | undefined): JsonFault | undefined =>
  bad === undefined ? undefined : { path: bad.reversedPath.toReversed(), rule: bad.rule }

const guarded =
  (check: (object: Record<string, unknown>) => Fault | undefined) =>
  (object: Record<string, unknown>): Schema.FilterIssue | undefined => {
    const bad = findFault(check, object)
    return bad === undefined ? undefined : { path: bad.path, issue: bad.rule }
  }

const findFault = (
  check: (object: Record<string, unknown>) => Fault | undefined,
  object: Record<string, unknown>
): JsonFault | undefined => {
  try {
    return located(check(object))
  } catch (error) {
    // A Proxy whose ownKeys trap throws
    return located(unreadable(error))
  }
}

const checkJsonEntries = (object: Record<string, unknown>) => checkObject(object, "", [])

/** The first value of `object` that JSON would not send as it is, if any. */
export const findJsonFault = (object: Record<string, unknown>): JsonFault | undefined =>
  findFault(checkJsonEntries, object)

export const checkJsonObject = guarded(checkJsonEntries)

export const checkIntegrations = guarded((object) => {
  const keys = Object.keys(object)
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    if (key === "__proto__") return fault("is not allowed as a key (prototype pollution)", key)
    let value: unknown
    try {
      value = object[key]
    } catch (error) {
      return unreadable(error, key)
    }
    if (value === undefined || typeof value === "boolean") continue
    if (!isPlainObject(value)) return fault("must be a boolean or a plain object", key)
    const bad = checkObject(value, key, [object])
    if (bad !== undefined) {
      bad.reversedPath.push(key)
      return bad
    }
  }
  return undefined
})
