/**
 * A call's way to the message that is sent, before it is measured and queued: its params are validated and built
 * (the tracking plan included); then `beforeSend`, given a copy, changes or drops the message, and what it returns
 * is rebuilt as a call's params are (normalized, unknown keys dropped, the plan applied again). The engine and
 * `AnalyticsClient.layerTest` share it, so a test client prepares a message exactly as the real one does.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { ValidationError } from "../AnalyticsError.ts"
import * as Message from "../Message.ts"
import * as TrackingPlan from "../TrackingPlan.ts"
import { describeError } from "./json.ts"

export interface Options {
  readonly now: () => number
  readonly uuid: () => string
  readonly strictParams?: boolean | undefined
  readonly onUnknownKey?: Message.EncodeEnvironment["onUnknownKey"]
  /** Checks calls, and what `beforeSend` returns, against a tracking plan, whose Schemas' decoded values are sent. */
  readonly trackingPlan?: TrackingPlan.Any | undefined
  /** Changes or drops (`null`) each message; one that throws refuses the call. */
  readonly beforeSend?: ((message: Message.WireMessage) => Message.WireMessage | null) | undefined
  /** The same as an Effect, run in the caller's fiber (it reads the caller's services and span). */
  readonly beforeSendEffect?:
    | ((message: Message.WireMessage) => Effect.Effect<Option.Option<Message.WireMessage>>)
    | undefined
}

export interface Prepare {
  /** Validates a call's params and builds its message. */
  readonly build: (type: Message.CallType, params: unknown) => Result.Result<Message.WireMessage, ValidationError>
  /** Runs the synchronous `beforeSend`, if any: the message to send, or `null` to drop it. */
  readonly beforeSend: (
    type: Message.CallType,
    message: Message.WireMessage
  ) => Result.Result<Message.WireMessage | null, ValidationError>
  /** Runs the Effect `beforeSend`, if any, in the caller's fiber: the message to send, or `null` to drop it. */
  readonly beforeSendEffect: (
    type: Message.CallType,
    message: Message.WireMessage
  ) => Effect.Effect<Message.WireMessage | null, ValidationError>
}

// The message as JSON will send it: a `beforeSend` that changes it in place changes nothing of the caller's
// (a built message holds the caller's own `properties` and `traits`). Only paid for when there is a `beforeSend`.
const copyOf = (message: Message.WireMessage): Result.Result<Message.WireMessage, ValidationError> => {
  const encoded = Message.serialize(message, Infinity)
  return Result.isFailure(encoded)
    ? Result.fail(encoded.failure as ValidationError)
    : Result.succeed(JSON.parse(encoded.success.json))
}

export const make = (options: Options): Prepare => {
  const env: Message.EncodeEnvironment = {
    now: options.now,
    uuid: options.uuid,
    strictParams: options.strictParams,
    onUnknownKey: options.onUnknownKey,
    checkCall: options.trackingPlan === undefined ? undefined : TrackingPlan.checker(options.trackingPlan)
  }
  const build = Message.makeBuilder(env)
  const rebuild = Message.makeRebuilder(env)

  // Whatever came back, the same object changed in place or a new one, is rebuilt: nothing unchecked is sent.
  const revised = (
    type: Message.CallType,
    changed: Message.WireMessage | null
  ): Result.Result<Message.WireMessage | null, ValidationError> =>
    changed === null ? Result.succeed(null) : rebuild(type, changed)

  const sync = options.beforeSend
  const effect = options.beforeSendEffect
  return {
    build,
    beforeSend: sync === undefined ? (_, message) => Result.succeed(message) : (type, message) => {
      const copy = copyOf(message)
      if (Result.isFailure(copy)) return copy
      let changed: Message.WireMessage | null
      try {
        changed = sync(copy.success)
      } catch (error) {
        return Result.fail(
          new ValidationError({ call: type, field: "", rule: `beforeSend threw: ${describeError(error)}` })
        )
      }
      return revised(type, changed)
    },
    beforeSendEffect: effect === undefined ?
      (_, message) => Effect.succeed(message) :
      (type, message) =>
        Effect.suspend(() => {
          const copy = copyOf(message)
          if (Result.isFailure(copy)) return Effect.fail(copy.failure)
          return Effect.flatMap(
            effect(copy.success),
            (changed) => Effect.fromResult(revised(type, Option.getOrNull(changed)))
          )
        })
  }
}
