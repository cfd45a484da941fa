/**
 * The Promise API alone, for plain Node code: `import { Analytics } from "cdp-analytics-effect/node"`, a drop-in for
 * `@customerio/cdp-analytics-node`.
 *
 * The package ships this entry bundled, with the parts of Effect it uses inlined and minified
 * (`dist/bundle/node.js`): a fresh process imports it in about the time it takes to import the original, instead
 * of loading two hundred modules (`npm run bench:coldstart`). Effect applications import the package root instead,
 * so that the library runs on their own `effect`.
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
export { AnalyticsError, ValidationError } from "./AnalyticsError.ts"
export type { AliasParams, GroupParams, IdentifyParams, PageParams, ScreenParams, TrackParams } from "./Message.ts"
export type { FileOptions as OutboxOptions } from "./Outbox.ts"
export * as TrackingPlan from "./TrackingPlan.ts"
