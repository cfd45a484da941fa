/**
 * The inspector's checks of one message: what the Pipelines API refuses (errors), what it takes but is probably a
 * mistake (warnings), and, with a tracking plan, what the plan does not allow. Pure functions: the store runs them as
 * messages arrive and keeps the result with each message.
 */
import * as Result from "effect/Result"
import { callTypes, MAX_MESSAGE_BYTES } from "../../Message.ts"
import type * as Message from "../../Message.ts"
import * as TrackingPlan from "../../TrackingPlan.ts"

/**
 * What a check is about: `shape` (type, objects), `size` (32 KB), `required` (fields each call needs), `id` (the
 * ids' types, `messageId`), `timestamp`, `duplicate` (a `messageId` already accepted), `plan` (the tracking plan).
 */
export type Rule = "shape" | "size" | "required" | "id" | "timestamp" | "duplicate" | "plan"

export interface Check {
  /** `error`: the API refuses it. `warning`: it is taken, but look at it. */
  readonly level: "error" | "warning"
  readonly rule: Rule
  readonly message: string
}

const day = 24 * 60 * 60 * 1000

/** A timestamp later than this after arrival is in the future: a clock or time zone bug. */
export const futureLimitMillis = day

/** A timestamp earlier than this before arrival is far in the past: right for a backfill, a bug otherwise. */
export const pastLimitMillis = 30 * day

const types: ReadonlySet<string> = new Set(callTypes)

const isObject = (u: unknown): u is Readonly<Record<string, unknown>> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const present = (u: unknown) => u !== undefined && u !== null && u !== ""

const days = (millis: number) => {
  const n = Math.round(millis / day)
  return n === 1 ? "1 day" : `${n} days`
}

const error = (rule: Rule, message: string): Check => ({ level: "error", rule, message })
const warning = (rule: Rule, message: string): Check => ({ level: "warning", rule, message })

/** Makes the check of a tracking plan against a message as sent, or nothing without a plan. */
export const planChecker = (
  plan: TrackingPlan.Any | undefined
): ((message: Readonly<Record<string, unknown>>) => string | undefined) | undefined => {
  if (plan === undefined) return undefined
  const check = TrackingPlan.checker(plan)
  return (message) => {
    const result = Result.try(() =>
      check(message["type"] as Message.CallType, message as unknown as Message.NormalizedCall, "message")
    )
    if (Result.isFailure(result)) return `the tracking plan could not check it: ${String(result.failure)}`
    return Result.isFailure(result.success) ? result.success.failure.message : undefined
  }
}

/**
 * Checks one message of a batch. `bytes` is the size of its JSON; `receivedAt` the arrival time the timestamps are
 * compared with.
 */
export const checkMessage = (
  value: unknown,
  bytes: number,
  receivedAt: number,
  plan?: ((message: Readonly<Record<string, unknown>>) => string | undefined) | undefined
): Array<Check> => {
  if (!isObject(value)) return [error("shape", "not a JSON object")]
  const checks: Array<Check> = []
  const type = value["type"]
  if (typeof type !== "string") checks.push(error("shape", "no string \"type\""))
  else if (!types.has(type)) {
    checks.push(error("shape", `unknown type "${type}": the API takes ${callTypes.join(", ")}`))
  }
  if (bytes > MAX_MESSAGE_BYTES) {
    checks.push(error("size", `${bytes} bytes, over the ${MAX_MESSAGE_BYTES}-byte (32 KB) limit of one message`))
  }

  // Ids: strings (a number is what another client may send; this one sends ids as strings).
  for (const field of ["userId", "anonymousId", "groupId", "previousId"]) {
    const id = value[field]
    if (id === undefined || id === null) continue
    if (typeof id === "number") checks.push(warning("id", `"${field}" is a number, not a string`))
    else if (typeof id !== "string") checks.push(error("id", `"${field}" must be a string`))
  }
  const messageId = value["messageId"]
  if (messageId === undefined) {
    checks.push(warning("id", "no \"messageId\": the API cannot tell a retried copy from a new message"))
  } else if (typeof messageId !== "string" || messageId === "") {
    checks.push(error("id", "\"messageId\" must be a non-empty string"))
  }

  // Fields each call needs.
  const identified = present(value["userId"]) || present(value["anonymousId"])
  switch (type) {
    case "identify":
    case "page":
    case "screen":
      if (!identified) checks.push(error("required", `${type} needs "userId" or "anonymousId"`))
      break
    case "track":
      if (!identified) checks.push(error("required", "track needs \"userId\" or \"anonymousId\""))
      if (typeof value["event"] !== "string" || value["event"] === "") {
        checks.push(error("required", "track needs \"event\", a non-empty string"))
      }
      break
    case "group":
      if (!present(value["groupId"])) checks.push(error("required", "group needs \"groupId\""))
      break
    case "alias":
      if (!present(value["userId"])) checks.push(error("required", "alias needs \"userId\""))
      if (!present(value["previousId"])) checks.push(error("required", "alias needs \"previousId\""))
      break
  }
  for (const field of ["properties", "traits", "context", "integrations"]) {
    const object = value[field]
    if (object !== undefined && object !== null && !isObject(object)) {
      checks.push(error("shape", `"${field}" must be an object`))
    }
  }

  const timestamp = value["timestamp"]
  if (timestamp === undefined || timestamp === null) {
    checks.push(warning("timestamp", "no \"timestamp\": the API stamps the message when it arrives"))
  } else {
    const millis = typeof timestamp === "string" ? Date.parse(timestamp) : Number.NaN
    if (Number.isNaN(millis)) checks.push(error("timestamp", "\"timestamp\" is not an ISO-8601 date"))
    else if (millis - receivedAt > futureLimitMillis) {
      checks.push(warning("timestamp", `"timestamp" is ${days(millis - receivedAt)} in the future`))
    } else if (receivedAt - millis > pastLimitMillis) {
      checks.push(
        warning("timestamp", `"timestamp" is ${days(receivedAt - millis)} in the past (right for a backfill only)`)
      )
    }
  }

  // The plan speaks about well-formed calls only: a call the API refuses has no plan to meet.
  if (plan !== undefined && checks.every((check) => check.level !== "error")) {
    const violation = plan(value)
    if (violation !== undefined) checks.push(warning("plan", violation))
  }
  return checks
}
