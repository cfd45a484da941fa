/**
 * The Effect face of the library: an `AnalyticsClient` service to compose into an application.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { FetchHttpClient } from "effect/http"
 * import { AnalyticsClient } from "cdp-analytics-effect"
 *
 * const program = Effect.gen(function*() {
 *   const analytics = yield* AnalyticsClient.AnalyticsClient
 *   yield* analytics.track({ userId: "019mr8mf4r", event: "added_to_cart", properties: { revenue: 39.95 } })
 * })
 *
 * program.pipe(
 *   Effect.provide(AnalyticsClient.layer({ writeKey: "YOUR_API_KEY" })),
 *   Effect.provide(FetchHttpClient.layer),
 *   Effect.runPromise // closing the layer's scope sends what is queued, then releases everything
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import type * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as AnalyticsConfig from "./AnalyticsConfig.ts"
import { AnalyticsError, InvalidOption } from "./AnalyticsError.ts"
import * as Engine from "./internal/engine.ts"
import * as Prepare from "./internal/prepare.ts"
import * as Message from "./Message.ts"
import * as Outbox from "./Outbox.ts"
import * as TrackingPlan from "./TrackingPlan.ts"

/**
 * Messages that finally failed, with the reason.
 *
 * @category models
 * @since 0.1.0
 */
export interface DeliveryFailure {
  readonly error: AnalyticsError
  readonly messages: ReadonlyArray<Message.WireMessage>
}

/**
 * How many failures the `failures` stream holds for a subscriber that has not read them yet. Past it the oldest
 * are dropped for that subscriber (the metrics and the log still count every one), so a stalled subscriber cannot
 * grow memory without bound.
 *
 * @category constants
 * @since 0.1.0
 */
export const failuresBuffer = 1_024

// The messages are parsed from their JSON only if a subscriber looks at them.
class Failure implements DeliveryFailure {
  readonly error: AnalyticsError
  readonly #envelopes: ReadonlyArray<Engine.Envelope>
  #messages: ReadonlyArray<Message.WireMessage> | undefined
  constructor(error: AnalyticsError, envelopes: ReadonlyArray<Engine.Envelope>) {
    this.error = error
    this.#envelopes = envelopes
  }
  get messages(): ReadonlyArray<Message.WireMessage> {
    return this.#messages ??= this.#envelopes.map((envelope) => envelope.message)
  }
}

/**
 * What a call succeeds with: its message as it will be sent, and a way to wait for that message's outcome.
 *
 * @category models
 * @since 0.1.0
 */
export interface Receipt {
  readonly messageId: string
  /** The message exactly as it will be sent (after the tracking plan and `beforeSend`). */
  readonly message: Message.WireMessage
  /**
   * Succeeds once the API has answered 2xx for the batch that held the message (or once `beforeSend` dropped it),
   * fails with its final error (a final status, retries used up, the close timeout). Waiting is optional and
   * interrupting the wait leaves the message alone. With a PostgreSQL outbox it fails at once: any process may send
   * the message, so this client cannot follow it.
   */
  readonly delivered: Effect.Effect<void, AnalyticsError>
}

/**
 * Each call validates its params, encodes the message and queues it, without waiting for the network. It succeeds
 * with a {@link Receipt} (the message as it will be sent, with its `messageId`), or fails with an `AnalyticsError`
 * whose reason is `ValidationError`, `MessageTooLarge`, `QueueFull` or `ClientClosed`; nothing is queued then.
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  readonly identify: (params: Message.IdentifyParams) => Effect.Effect<Receipt, AnalyticsError>
  readonly track: (params: Message.TrackParams) => Effect.Effect<Receipt, AnalyticsError>
  readonly page: (params: Message.PageParams) => Effect.Effect<Receipt, AnalyticsError>
  readonly screen: (params: Message.ScreenParams) => Effect.Effect<Receipt, AnalyticsError>
  readonly group: (params: Message.GroupParams) => Effect.Effect<Receipt, AnalyticsError>
  readonly alias: (params: Message.AliasParams) => Effect.Effect<Receipt, AnalyticsError>
  /**
   * Sends everything queued now and completes when those messages are delivered or have finally failed. The client
   * stays open. Concurrent flushes share the work.
   */
  readonly flush: Effect.Effect<void>
  /**
   * Every final delivery failure (a final status, retries used up, the close timeout). Subscribe before the
   * failures happen; a subscriber that falls more than {@link failuresBuffer} failures behind loses the oldest.
   * The stream ends when the client is closed, after the failures of the close itself: to see those, run the
   * subscriber in a scope that outlives the client's.
   */
  readonly failures: Stream.Stream<DeliveryFailure>
  /** The tracking plan the client checks calls against (`TrackingPlan.layer`), if any. */
  readonly trackingPlan: TrackingPlan.Any | undefined
}

/**
 * A `beforeSend` step of the Effect API: a copy of the message about to be sent in (changing it in place is safe),
 * the message to send instead (or `Option.none()` to drop it) out, run in the caller's fiber. What it returns is
 * rebuilt as a call's params are: checked, normalized, keys of no field dropped, the tracking plan applied again. The
 * built-in steps are in `cdp-analytics-effect/Enrich`.
 *
 * @category models
 * @since 0.1.0
 */
export type BeforeSendStep = (message: Message.WireMessage) => Effect.Effect<Option.Option<Message.WireMessage>>

/**
 * The `beforeSend` an `AnalyticsClient` (and `layerTest`) runs on every message, when one is provided
 * (`Enrich.layer(step)`, or `Layer.succeed(BeforeSend, step)`).
 *
 * @category services
 * @since 0.1.0
 */
export class BeforeSend extends Context.Service<BeforeSend, BeforeSendStep>()("cdp-analytics-effect/BeforeSend") {}

/**
 * The client typed by a tracking plan: `track` accepts only the plan's events (and, with `unknownEvents: "allow"`,
 * others), each with its own properties type; `identify` and `group` take the plan's traits.
 *
 * @category models
 * @since 0.1.0
 */
export interface Typed<P extends TrackingPlan.Any> extends Omit<Service, "track" | "identify" | "group"> {
  readonly track: <const E extends string>(
    params: { readonly event: E } & TrackingPlan.TrackParams<P, E>
  ) => Effect.Effect<Receipt, AnalyticsError>
  readonly identify: (params: TrackingPlan.IdentifyParams<P>) => Effect.Effect<Receipt, AnalyticsError>
  readonly group: (params: TrackingPlan.GroupParams<P>) => Effect.Effect<Receipt, AnalyticsError>
}

/**
 * @category services
 * @since 0.1.0
 */
export class AnalyticsClient extends Context.Service<AnalyticsClient, Service>()(
  "cdp-analytics-effect/AnalyticsClient"
) {}

/**
 * What `layerTest` recorded.
 *
 * @category services
 * @since 0.1.0
 */
export class AnalyticsRecorder extends Context.Service<AnalyticsRecorder, {
  /** Every accepted message, in call order, as it would have been sent. */
  readonly messages: Effect.Effect<ReadonlyArray<Message.WireMessage>>
  readonly clear: Effect.Effect<void>
}>()("cdp-analytics-effect/AnalyticsRecorder") {}

/** The receipt of an accepted call; waiting on it subscribes to its outcome, and interrupting unsubscribes. */
const receiptOf = (accepted: Engine.Accepted): Receipt => ({
  messageId: accepted.message.messageId,
  message: accepted.message,
  delivered: Effect.callback<void, AnalyticsError>((resume) => {
    const stop = accepted.settlement.watch((outcome) => resume(outcome === null ? Effect.void : Effect.fail(outcome)))
    return Effect.sync(stop)
  })
})

const methods = <R>(
  accept: (type: Message.CallType, params: unknown) => Effect.Effect<Receipt, AnalyticsError, R>
) => ({
  identify: Effect.fn("AnalyticsClient.identify")((params: Message.IdentifyParams) => accept("identify", params)),
  track: Effect.fn("AnalyticsClient.track")((params: Message.TrackParams) => accept("track", params)),
  page: Effect.fn("AnalyticsClient.page")((params: Message.PageParams) => accept("page", params)),
  screen: Effect.fn("AnalyticsClient.screen")((params: Message.ScreenParams) => accept("screen", params)),
  group: Effect.fn("AnalyticsClient.group")((params: Message.GroupParams) => accept("group", params)),
  alias: Effect.fn("AnalyticsClient.alias")((params: Message.AliasParams) => accept("alias", params))
})

/**
 * Builds a client in the current scope. Closing the scope stops intake, sends what is queued, waits for in-flight
 * requests and retries up to `closeTimeout`, and fails what is left with `FlushTimeout`.
 *
 * With an `Outbox` in the context (`Outbox.layerFile`), every call succeeds only once its message is written to the
 * outbox, what an earlier client left there is sent first, and what is left at the close timeout stays there
 * (`FlushTimeout` with `kept: true`). A directory in use by another live client fails the layer with
 * `OutboxUnavailable`. With a `TrackingPlan.Current` (`TrackingPlan.layer`), calls are checked against the plan;
 * with a `BeforeSend` (`Enrich.layer`), it runs on every message, in the caller's fiber.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function*(options: AnalyticsConfig.Options) {
  // Takes, so the stream can end: without an end a subscriber never knows it has seen close's last failure.
  // One sliding buffer per subscriber, so a stalled subscriber loses only its own oldest failures; with none, a
  // failure costs nothing here.
  const subscribers = new Set<Queue.Queue<DeliveryFailure, Cause.Done>>()
  let ended = false
  // Added before the engine's own finalizer, so it runs after it (last-in first-out): once close has settled
  // everything, every stream ends.
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      ended = true
      for (const subscriber of subscribers) Queue.endUnsafe(subscriber)
    })
  )
  const trackingPlan = Option.getOrUndefined(yield* Effect.serviceOption(TrackingPlan.Current))
  const engine = yield* Engine.make({
    options,
    outbox: Option.getOrUndefined(yield* Effect.serviceOption(Outbox.Outbox)),
    trackingPlan,
    beforeSendEffect: Option.getOrUndefined(yield* Effect.serviceOption(BeforeSend)),
    // A failure a subscriber of `failures` sees is not logged too; a refusal is logged whatever the caller does
    // with the error it got, since an ignored error would otherwise be silent.
    isHandled: (kind) => kind === "failure" && subscribers.size > 0,
    onSettled: (envelopes, error) => {
      if (error === undefined || subscribers.size === 0) return
      const failure = new Failure(error, envelopes)
      for (const subscriber of subscribers) Queue.offerUnsafe(subscriber, failure)
    }
  })
  const failures = Stream.unwrap(Effect.gen(function*() {
    const subscriber = yield* Queue.sliding<DeliveryFailure, Cause.Done>(failuresBuffer)
    if (ended) Queue.endUnsafe(subscriber)
    subscribers.add(subscriber)
    yield* Effect.addFinalizer(() => Effect.sync(() => subscribers.delete(subscriber)))
    return Stream.fromQueue(subscriber)
  }))
  return AnalyticsClient.of({
    ...methods((type, params) => Effect.map(engine.acceptEffect(type, params), receiptOf)),
    flush: Effect.withSpan(engine.flush, "AnalyticsClient.flush"),
    failures,
    trackingPlan
  })
})

/**
 * The client of the context, typed by `plan`. The client must have been built with the same plan
 * (`TrackingPlan.layer(plan)`), which is what checks the calls at run time; otherwise this dies, naming the mistake.
 *
 * @category accessors
 * @since 0.1.0
 */
export const typed = <P extends TrackingPlan.Any>(plan: P): Effect.Effect<Typed<P>, never, AnalyticsClient> =>
  AnalyticsClient.use((client) =>
    client.trackingPlan === plan
      ? Effect.succeed(client as unknown as Typed<P>)
      : Effect.die(
        new Error(
          "AnalyticsClient.typed(plan): the client was built without this plan, so its calls would not be checked; provide TrackingPlan.layer(plan) to the client's layer"
        )
      )
  )

/**
 * The client as a layer. The `HttpClient` stays open, so you choose the transport: `FetchHttpClient.layer` (any
 * runtime), `NodeHttpClient.layerUndici` or `NodeHttpClient.layerNodeHttp` from `@effect/platform-node`, or a mock.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (
  options: AnalyticsConfig.Options
): Layer.Layer<AnalyticsClient, AnalyticsError, HttpClient.HttpClient> => Layer.effect(AnalyticsClient, make(options))

/**
 * The client as a layer whose options come from `Config`: by default `AnalyticsConfig.config`, which reads
 * `CUSTOMERIO_WRITE_KEY`, `CUSTOMERIO_REGION`, `CUSTOMERIO_HOST` and the other `CUSTOMERIO_*` variables. A missing or
 * wrong value fails the layer with an `InvalidOption` naming the variable (`CUSTOMERIO_WRITE_KEY is missing: …`), and
 * a `ConfigError` of a `Config` of your own is reported the same way.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config<AnalyticsConfig.Options> = AnalyticsConfig.config
): Layer.Layer<AnalyticsClient, AnalyticsError, HttpClient.HttpClient> =>
  Layer.effect(
    AnalyticsClient,
    Effect.gen(function*() {
      return yield* config
    }).pipe(
      Effect.mapError((error) =>
        new AnalyticsError({
          reason: new InvalidOption({ option: "config", rule: `could not be read: ${error.message}` })
        })
      ),
      Effect.flatMap(make)
    )
  )

/**
 * A client for your own tests: calls are validated and encoded exactly as by the real client (time from `Clock`,
 * ids from `Random`), then recorded in memory instead of sent. Read them with `AnalyticsRecorder`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerTest: Layer.Layer<AnalyticsClient | AnalyticsRecorder> = Layer.effectContext(
  Effect.gen(function*() {
    const recorded = yield* Ref.make<ReadonlyArray<Message.WireMessage>>([])
    const clock = yield* Clock.Clock
    const random = yield* Random.Random
    const trackingPlan = Option.getOrUndefined(yield* Effect.serviceOption(TrackingPlan.Current))
    const beforeSend = Option.getOrUndefined(yield* Effect.serviceOption(BeforeSend))
    // The engine's own steps: built, checked against the plan, through beforeSend and rebuilt.
    const prepare = Prepare.make({
      now: () => clock.currentTimeMillisUnsafe(),
      uuid: () => Message.uuidV4(random),
      trackingPlan,
      beforeSendEffect: beforeSend
    })
    const delivered = Effect.void
    const record = (type: Message.CallType, params: unknown) =>
      Effect.gen(function*() {
        const built = prepare.build(type, params)
        if (Result.isFailure(built)) return yield* new AnalyticsError({ reason: built.failure })
        const message = built.success
        const sent = yield* Effect.mapError(
          prepare.beforeSendEffect(type, message),
          (reason) => new AnalyticsError({ reason })
        )
        // Dropped by beforeSend: nothing recorded, as nothing would be sent.
        if (sent === null) return { messageId: message.messageId, message, delivered }
        const encoded = Message.serialize(sent)
        if (Result.isFailure(encoded)) return yield* new AnalyticsError({ reason: encoded.failure })
        yield* Ref.update(recorded, (all) => [...all, encoded.success.message])
        return { messageId: sent.messageId, message: sent, delivered }
      })
    const client = AnalyticsClient.of({
      ...methods(record),
      flush: Effect.void,
      failures: Stream.empty,
      trackingPlan
    })
    const recorder = AnalyticsRecorder.of({ messages: Ref.get(recorded), clear: Ref.set(recorded, []) })
    return Context.make(AnalyticsClient, client).pipe(Context.add(AnalyticsRecorder, recorder))
  })
)
