/**
 * The `HttpClient` the Promise API sends with on Node, for Effect applications too: `node:http`/`node:https` with
 * keep-alive sockets, and nothing to install besides this package and `effect`.
 *
 * ```ts
 * import { AnalyticsClient } from "cdp-analytics-effect"
 * import * as NodeTransport from "cdp-analytics-effect/NodeTransport"
 * import { Layer } from "effect"
 *
 * export const AnalyticsLive = AnalyticsClient.layerConfig().pipe(Layer.provide(NodeTransport.layer()))
 * ```
 *
 * **When to use**
 *
 * On Node (and Bun, Deno), when nothing else decides the transport: it is the fastest measured here
 * (docs/performance.md). It is narrow on purpose, for this client's requests: one request with a byte body, at
 * most 64 KiB of the answer read. For other HTTP work, a proxy or TLS settings, use `@effect/platform-node`'s
 * `NodeHttpClient` layers or `FetchHttpClient.layer`; on runtimes without `node:http`, `FetchHttpClient.layer`.
 *
 * It is not in the package root, which imports no `node:` module.
 *
 * @since 0.1.0
 */
import type * as HttpClient from "effect/http/HttpClient"
import type * as Layer from "effect/Layer"
import * as Http from "node:http"
import * as Https from "node:https"
import * as NodeHttpClient from "./internal/nodeHttpClient.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Sockets kept per host: match the client's `maxConcurrentRequests`. @default 4 */
  readonly maxSockets?: number | undefined
}

/**
 * An `HttpClient` over `node:http`/`node:https` with keep-alive agents, closed with the layer's scope.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<HttpClient.HttpClient> =>
  NodeHttpClient.layer({ http: Http, https: Https }, { maxSockets: options.maxSockets ?? 4 })
