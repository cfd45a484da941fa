/**
 * cdp-analytics-effect: the Customer.io Data Pipelines client built on Effect.
 *
 * @since 0.1.0
 */

/**
 * The Effect service: `AnalyticsClient.layer(options)`, `layerConfig()`, `layerTest`.
 *
 * @since 0.1.0
 */
export * as AnalyticsClient from "./AnalyticsClient.ts"

/**
 * Options, defaults and the `Config` reader.
 *
 * @since 0.1.0
 */
export * as AnalyticsConfig from "./AnalyticsConfig.ts"

/**
 * The one error type, with a tagged `reason`.
 *
 * @since 0.1.0
 */
export * as AnalyticsError from "./AnalyticsError.ts"

/**
 * The `Metric`s the client updates.
 *
 * @since 0.1.0
 */
export * as AnalyticsMetrics from "./AnalyticsMetrics.ts"

// The local collector is not re-exported here: it loads an HTTP server, which every importer of the client would pay
// for at start-up. Import it as `cdp-analytics-effect/Collector`.

/**
 * Call schemas, the wire message and its byte size.
 *
 * @since 0.1.0
 */
export * as Message from "./Message.ts"

/**
 * The durable outbox: accepted messages written to disk before the call returns.
 *
 * @since 0.1.0
 */
export * as Outbox from "./Outbox.ts"

/**
 * Typed tracking plans: the events a client may send and the Schemas of their properties and traits.
 *
 * @since 0.1.0
 */
export * as TrackingPlan from "./TrackingPlan.ts"

/**
 * The Promise facade, a drop-in replacement for `@customerio/cdp-analytics-node`.
 *
 * @since 0.1.0
 */
export {
  Analytics,
  // What `require()` returns on Node 22+, so CommonJS code written for the original keeps working.
  Analytics as "module.exports",
  Analytics as default,
  type AnalyticsEvents,
  type AnalyticsSettings,
  type Callback,
  CallContext,
  type EmittedError,
  type ErrorCode,
  type HttpRequestInfo,
  type HttpResponseInfo,
  Receipt
} from "./Analytics.ts"

/**
 * Thrown by the Promise API, and the `reason` of the Effect API's failure, when a call's params break a rule. The
 * same class as `AnalyticsError.ValidationError`.
 *
 * @since 0.1.0
 */
export { ValidationError } from "./AnalyticsError.ts"
export type { AliasParams, GroupParams, IdentifyParams, PageParams, ScreenParams, TrackParams } from "./Message.ts"
