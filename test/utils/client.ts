/**
 * Builds the engine over the scripted `HttpClient` in a scope the test controls, so a test can close it (and so run
 * the drain) at the moment it chooses. Outcomes are recorded as the engine reports them, synchronously: a test
 * reads them as soon as the effect that caused them returns, with no subscriber fiber to wait for.
 *
 * Waits are explicit: `next` (the next request), `caughtUp` (the consumer has planned every accepted message and
 * started its batches), `nextResponse` (an attempt's answer was read), `TestClock.adjust` (which waits for the
 * fibers it wakes), or a `Deferred` in a handler. No test yields and hopes.
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import * as Logger from "effect/Logger"
import * as Queue from "effect/Queue"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import type * as AnalyticsConfig from "../../src/AnalyticsConfig.ts"
import type { AnalyticsError } from "../../src/AnalyticsError.ts"
import * as Engine from "../../src/internal/engine.ts"
import type * as Transport from "../../src/internal/transport.ts"
import type * as Message from "../../src/Message.ts"
import * as Outbox from "../../src/Outbox.ts"
import * as MockHttp from "./MockHttp.ts"

export const writeKey = "wk_test_5ecret_K3y"
export const host = "https://api.test"

export interface Failure {
  readonly error: AnalyticsError
  readonly messages: ReadonlyArray<Message.WireMessage>
}

export interface LogLine {
  readonly level: string
  readonly message: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps what it is given, in place of the console one. */
export const captureLogs = (lines: Array<LogLine>) =>
  Logger.layer([
    Logger.make((options) => {
      lines.push({
        level: options.logLevel,
        message: Array.isArray(options.message) ? options.message.map(String).join(" ") : String(options.message),
        annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
      })
    })
  ])

export const setup = Effect.fnUntraced(function*(
  options: Partial<AnalyticsConfig.Options> = {},
  handler: MockHttp.Handler = MockHttp.ok,
  outbox?: Outbox.FileOptions
) {
  const mock = yield* MockHttp.make(handler)
  const scope = yield* Scope.make()
  const failures: Array<Failure> = []
  /** Every outcome by messageId, in the order they were reported. */
  const outcomes = new Map<string, Array<string>>()
  const responses = yield* Queue.unbounded<Transport.ResponseInfo>()
  // What the client logs, instead of the console.
  const logs: Array<LogLine> = []
  const engine = yield* Engine.make({
    options: { writeKey, host, ...options },
    outbox: outbox === undefined ? undefined : Result.getOrThrow(Outbox.file(outbox)),
    onSettled: (envelopes, error) => {
      for (const envelope of envelopes) {
        const id = envelope.message.messageId
        outcomes.set(id, [...(outcomes.get(id) ?? []), error?.reason._tag ?? "delivered"])
      }
      if (error !== undefined) failures.push({ error, messages: envelopes.map((envelope) => envelope.message) })
    },
    observer: { onResponse: (_, describe) => Queue.offerUnsafe(responses, describe()) }
  }).pipe(
    Effect.provideService(HttpClient.HttpClient, mock.client),
    Scope.provide(scope),
    Effect.provide(captureLogs(logs))
  )
  const call = (type: Message.CallType) => (params: unknown) =>
    Effect.map(engine.acceptEffect(type, params), (accepted) => accepted.message)
  const client = {
    identify: call("identify"),
    track: call("track"),
    page: call("page"),
    screen: call("screen"),
    group: call("group"),
    alias: call("alias"),
    flush: engine.flush
  }
  return {
    client,
    engine,
    requests: mock.requests,
    next: mock.next,
    nextResponse: Queue.take(responses),
    caughtUp: engine.caughtUp,
    failures,
    outcomes,
    logs,
    close: Scope.close(scope, Exit.void),
    /** Starts closing in the background, to prove what close waits for. */
    closeInBackground: Effect.forkChild(Scope.close(scope, Exit.void), { startImmediately: true })
  }
})

export const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => Effect.sync(() => fiber.pollUnsafe() !== undefined)
