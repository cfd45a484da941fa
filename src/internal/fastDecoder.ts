/**
 * The encoder's fast path. The Schema parser costs about 60 ns per declared field even when the field is absent,
 * most of the encoder's budget, so valid calls take a decoder derived from each Struct's own fields, running the
 * same predicates and transformations that each field registered here ({@link withFast}, {@link withCheck}).
 * Anything it cannot vouch for is left to the Schema parser, which decides and reports. test/Message.test.ts checks
 * that both agree and that valid input never reaches the parser ({@link slowPath}).
 */
import type * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"

/** What a field's fast decoder returns for a value it cannot vouch for. */
export const invalid: unique symbol = Symbol("invalid")

interface FastField {
  readonly optional: boolean
  readonly decode: (u: unknown) => unknown
}

const fastFields = new Map<object, FastField>()

/** Registers the fast decoder of a field Schema. */
export const withFast = <S extends object>(schema: S, optional: boolean, decode: (u: unknown) => unknown): S => {
  fastFields.set(schema, { optional, decode })
  return schema
}

export type FastDecoder = (input: unknown) => NormalizedCall | undefined

const fastChecks = new Map<object, (call: NormalizedCall) => boolean>()

/** Registers the fast equivalent of a Struct-level check. */
export const withCheck = (check: object, fast: (call: NormalizedCall) => boolean): void => {
  fastChecks.set(check, fast)
}

export const makeFastDecoder = (
  schema: { readonly fields: { readonly [key: string]: object }; readonly ast: SchemaAST.AST },
  finish: (call: NormalizedCall) => NormalizedCall = (call) => call
): FastDecoder => {
  const keys = Object.keys(schema.fields)
  const plan = keys.map((key) => {
    const field = fastFields.get(schema.fields[key]!)
    if (field === undefined) throw new Error(`Message: field "${key}" has no fast decoder`)
    return field
  })
  const checks = (schema.ast.checks ?? []).map((check) => {
    const fast = fastChecks.get(check)
    if (fast === undefined) throw new Error("Message: a Struct check has no fast equivalent")
    return fast
  })
  return (input) => {
    // Same gate as the Struct parser: arrays and non-objects are its to reject
    if (typeof input !== "object" || input === null || Array.isArray(input)) return undefined
    const record = input as Record<string, unknown>
    const out: Record<string, unknown> = {}
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!
      const value = record[key]
      const field = plan[i]!
      if (value === undefined || value === null) {
        if (field.optional) continue
        return undefined
      }
      const decoded = field.decode(value)
      if (decoded === invalid) return undefined
      out[key] = decoded
    }
    const call: NormalizedCall = out
    for (let i = 0; i < checks.length; i++) {
      if (!checks[i]!(call)) return undefined
    }
    return finish(call)
  }
}

// Every decoded call fits this one shape, so the encoder needs no per-type branches.
export interface NormalizedCall {
  readonly userId?: string | undefined
  readonly anonymousId?: string | undefined
  readonly context?: Schema.JsonObject | undefined
  readonly integrations?: Schema.JsonObject | undefined
  readonly timestamp?: string | undefined
  readonly messageId?: string | undefined
  readonly event?: string | undefined
  readonly name?: string | undefined
  readonly category?: string | undefined
  readonly properties?: Schema.JsonObject | undefined
  readonly traits?: Schema.JsonObject | undefined
  readonly groupId?: string | undefined
  readonly previousId?: string | undefined
}

/** How many calls the encoder had to hand to the Schema parser (invalid ones, or a fast path that fell short). */
export const slowPath = { count: 0 }
