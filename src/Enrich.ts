/**
 * `beforeSend` steps for the Effect API, each a function from the message about to be sent to the message to send
 * instead (or `Option.none()` to drop it), run in the caller's fiber, so it can read the caller's services and
 * current span. Compose them with {@link all} and provide them with {@link layer}:
 *
 * ```ts
 * import { AnalyticsClient } from "cdp-analytics-effect"
 * import * as Enrich from "cdp-analytics-effect/Enrich"
 * import * as NodeTransport from "cdp-analytics-effect/NodeTransport"
 * import { Layer } from "effect"
 *
 * export const AnalyticsLive = AnalyticsClient.layerConfig().pipe(
 *   Layer.provide([
 *     NodeTransport.layer(),
 *     Enrich.layer(
 *       Enrich.all(
 *         Enrich.traceContext,
 *         Enrich.clientIp({ trustedProxies: ["10.0.0.0/8"] }),
 *         Enrich.removePaths(["traits.password", "properties.cardNumber"]),
 *         Enrich.sample("Page Scrolled", 0.1)
 *       )
 *     )
 *   ])
 * )
 * ```
 *
 * A step is given a copy of the message. What it returns is rebuilt as a call's params are (checked, normalized, keys
 * of no field dropped, the tracking plan applied again) and measured against the 32 KB limit, so what is sent is
 * always valid. A dropped message is counted in `AnalyticsMetrics.filtered`, and its receipt succeeds.
 *
 * Imported on its own path (not from the package root): it reads Effect's `HttpServerRequest`, which a client that
 * never enriches should not load.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as Layer from "effect/Layer"
import * as IpNetwork from "effect/net/IpNetwork"
import * as NetAddress from "effect/net/NetAddress"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Result from "effect/Result"
import type * as Tracer from "effect/Tracer"
import { BeforeSend, type BeforeSendStep } from "./AnalyticsClient.ts"
import type * as Message from "./Message.ts"

/**
 * @category models
 * @since 0.1.0
 */
export type Step = BeforeSendStep

/**
 * Provides `step` as the `beforeSend` of `AnalyticsClient` (and `AnalyticsClient.layerTest`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (step: Step): Layer.Layer<BeforeSend> => Layer.succeed(BeforeSend, step)

/**
 * Runs the steps in order, each on what the previous returned; the first that drops the message ends it.
 *
 * @category combinators
 * @since 0.1.0
 */
export const all = (...steps: ReadonlyArray<Step>): Step => (message) =>
  Effect.gen(function*() {
    let current = message
    for (const step of steps) {
      const next = yield* step(current)
      if (Option.isNone(next)) return next
      current = next.value
    }
    return Option.some(current)
  })

/** A step that only changes the message. */
const mapping = (f: (message: Message.WireMessage) => Message.WireMessage): Step => (message) =>
  Effect.sync(() => Option.some(f(message)))

const withContext = (message: Message.WireMessage, extra: Record<string, unknown>): Message.WireMessage => ({
  ...message,
  context: { ...extra, ...message.context } as Message.WireMessage["context"]
})

/**
 * Adds the caller's span's ids as `context.traceId` and `context.spanId`, so an event links to the request that
 * caused it (the span the client opens for the call itself is skipped). Without a span of the caller's, or when the
 * message already has a `traceId`, it changes nothing.
 *
 * @category steps
 * @since 0.1.0
 */
export const traceContext: Step = (message) =>
  Effect.map(Effect.option(Effect.currentSpan), (current) => {
    if (Option.isNone(current) || message.context.traceId !== undefined) return Option.some(message)
    let span: Tracer.AnySpan = current.value
    if (span._tag === "Span" && span.name.startsWith("AnalyticsClient.")) {
      // The client's own span: the caller's is its parent, if the caller has one.
      if (Option.isNone(span.parent)) return Option.some(message)
      span = span.parent.value
    }
    return Option.some(withContext(message, { traceId: span.traceId, spanId: span.spanId }))
  })

/**
 * @category models
 * @since 0.1.0
 */
export interface ClientIpOptions {
  /**
   * Addresses and networks (`"10.0.0.0/8"`, `"::1"`) of the proxies in front of the server. `X-Forwarded-For` is
   * read only as far as these vouch for it; with none, only the connection's own peer counts. An invalid entry
   * throws when the step is made.
   * @default []
   */
  readonly trustedProxies?: ReadonlyArray<string> | undefined
}

const ipv4Mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i

const parseAddress = (text: string): NetAddress.IpAddress | undefined => {
  const trimmed = text.trim().replace(ipv4Mapped, "$1")
  const parsed = NetAddress.ipFromString(trimmed)
  return Result.isSuccess(parsed) ? parsed.success : undefined
}

const parseNetwork = (text: string): IpNetwork.IpNetwork => {
  if (text.includes("/")) {
    const network = IpNetwork.fromString(text)
    if (Result.isFailure(network)) throw new Error(`trustedProxies: "${text}" is not an address or a network`)
    return network.success
  }
  const address = parseAddress(text)
  if (address === undefined) throw new Error(`trustedProxies: "${text}" is not an address or a network`)
  return IpNetwork.makeUnsafe(address, address._tag === "Ipv4Address" ? 32 : 128)
}

/**
 * The end user's address: the connection's peer, unless it is a trusted proxy; then the last address in
 * `X-Forwarded-For` that no trusted proxy vouches for. `undefined` when every hop is a trusted proxy's (or the
 * header is missing): a proxy's own address is never the user's.
 */
export const clientAddress = (
  peer: string | undefined,
  forwardedFor: string | undefined,
  trusted: ReadonlyArray<IpNetwork.IpNetwork>
): string | undefined => {
  const isTrusted = (text: string) => {
    const address = parseAddress(text)
    return address !== undefined && trusted.some((network) => IpNetwork.contains(network, address))
  }
  if (peer === undefined) return undefined
  let client = peer
  const hops = forwardedFor?.split(",").map((hop) => hop.trim()).filter((hop) => hop !== "") ?? []
  while (isTrusted(client) && hops.length > 0) client = hops.pop()!
  if (isTrusted(client) || parseAddress(client) === undefined) return undefined
  return client.trim().replace(ipv4Mapped, "$1")
}

/**
 * Adds the end user's IP address as `context.ip`, from the `HttpServerRequest` of Effect's HTTP server in the
 * caller's context, so the API's geolocation works without passing the address by hand. `X-Forwarded-For` counts
 * only through `trustedProxies`. Outside a request, when the message already has an `ip`, or when every address it
 * finds is a trusted proxy's, it changes nothing: it never records the server's own address, nor a proxy's.
 *
 * @category steps
 * @since 0.1.0
 */
export const clientIp = (options: ClientIpOptions = {}): Step => {
  const trusted = (options.trustedProxies ?? []).map(parseNetwork)
  return (message) =>
    Effect.map(Effect.serviceOption(HttpServerRequest.HttpServerRequest), (request) => {
      if (Option.isNone(request) || message.context.ip !== undefined) return Option.some(message)
      const ip = clientAddress(
        Option.getOrUndefined(request.value.peerAddress),
        request.value.headers["x-forwarded-for"],
        trusted
      )
      return Option.some(ip === undefined ? message : withContext(message, { ip }))
    })
}

/**
 * Adds fixed fields to `context` (those the message already has win).
 *
 * @category steps
 * @since 0.1.0
 */
export const staticContext = (fields: Readonly<Record<string, unknown>>): Step =>
  mapping((message) => withContext(message, fields))

/**
 * Removes the listed paths (`"properties.email"`, `"traits.address.street"`, `"context.ip"`) wherever a message has
 * them: personal data that must not leave the application. A path goes through arrays: `"properties.items.email"`
 * removes `email` from every item of `properties.items`.
 *
 * @category steps
 * @since 0.1.0
 */
export const removePaths = (paths: ReadonlyArray<string>): Step => {
  const split = paths.map((path) => path.split("."))
  const without = (value: unknown, path: ReadonlyArray<string>): unknown => {
    if (Array.isArray(value)) return value.map((item) => without(item, path))
    const [head, ...rest] = path as [string, ...Array<string>]
    if (typeof value !== "object" || value === null || !Object.hasOwn(value, head)) return value
    const copy: Record<string, unknown> = { ...value }
    if (rest.length === 0) delete copy[head]
    else copy[head] = without(copy[head], rest)
    return copy
  }
  return mapping((message) => split.reduce((current, path) => without(current, path) as Message.WireMessage, message))
}

/**
 * Keeps a share (`rate`, from 0 to 1) of the `track` messages of one event and drops the rest, drawing from Effect's
 * `Random` (seed it in tests). Other messages pass.
 *
 * @category steps
 * @since 0.1.0
 */
export const sample = (event: string, rate: number): Step => {
  if (!(rate >= 0 && rate <= 1)) throw new Error(`sample: rate must be between 0 and 1, got ${rate}`)
  return (message) =>
    message.type !== "track" || message.event !== event
      ? Effect.succeed(Option.some(message))
      : Effect.map(Random.next, (draw) => (draw < rate ? Option.some(message) : Option.none()))
}
