/**
 * Drop-in at the type level: every params object and settings object that the original libraries' types accept
 * is accepted by ours, under `exactOptionalPropertyTypes`. The assertions are checked by `tsc` (`npm run check`).
 */
import type * as Customerio from "@customerio/cdp-analytics-node"
import { assert, describe, it } from "@effect/vitest"
import type * as Segment from "@segment/analytics-node"
import * as Schema from "effect/Schema"
import { expectTypeOf } from "vitest"
import type * as AnalyticsClient from "../src/AnalyticsClient.ts"
import type {
  AliasParams,
  AnalyticsSettings,
  GroupParams,
  IdentifyParams,
  PageParams,
  ScreenParams,
  TrackParams
} from "../src/index.ts"
import { Analytics, TrackingPlan } from "../src/index.ts"

type Accepts<Ours, Theirs> = [Theirs] extends [Ours] ? true : false
const accepts = <T extends true>(_: T) => _

describe("types", () => {
  it("accept what @customerio/cdp-analytics-node's types accept", () => {
    assert.isTrue(accepts<Accepts<TrackParams, Customerio.TrackParams>>(true))
    assert.isTrue(accepts<Accepts<IdentifyParams, Customerio.IdentifyParams>>(true))
    assert.isTrue(accepts<Accepts<PageParams, Customerio.PageParams>>(true))
    assert.isTrue(accepts<Accepts<ScreenParams, Customerio.PageParams>>(true))
    assert.isTrue(accepts<Accepts<GroupParams, Customerio.GroupParams>>(true))
    assert.isTrue(accepts<Accepts<AliasParams, Customerio.AliasParams>>(true))
    assert.isTrue(accepts<Accepts<AnalyticsSettings, Customerio.AnalyticsSettings>>(true))
  })

  it("accept what @segment/analytics-node's types accept", () => {
    assert.isTrue(accepts<Accepts<TrackParams, Segment.TrackParams>>(true))
    assert.isTrue(accepts<Accepts<IdentifyParams, Segment.IdentifyParams>>(true))
    assert.isTrue(accepts<Accepts<PageParams, Segment.PageParams>>(true))
    assert.isTrue(accepts<Accepts<GroupParams, Segment.GroupParams>>(true))
    assert.isTrue(accepts<Accepts<AliasParams, Segment.AliasParams>>(true))
  })

  it("a call that names nobody is a type error, as with Segment's IdentityOptions", () => {
    const analytics = Object.create(Analytics.prototype) as Analytics
    const calls = () => {
      // @ts-expect-error neither userId nor anonymousId
      analytics.track({ event: "Ultimate Played" })
      // @ts-expect-error neither userId nor anonymousId
      analytics.identify({ traits: { plan: "pro" } })
      // @ts-expect-error neither userId nor anonymousId
      analytics.page({ name: "Home" })
      // @ts-expect-error alias needs both ids
      analytics.alias({ previousId: "a" })
      analytics.track({ anonymousId: "a", event: "e" })
      analytics.track({ userId: 1, anonymousId: "a", event: "e" })
      analytics.group({ groupId: "g" }) // a group call may name no person
    }
    const effect = (client: AnalyticsClient.Service) => {
      // @ts-expect-error neither userId nor anonymousId
      return client.screen({ name: "Settings" })
    }
    assert.isFunction(calls)
    assert.isFunction(effect)
  })

  it("callbacks written as in the original's docs type-check", () => {
    const analytics = Object.create(Analytics.prototype) as Analytics
    const written = () =>
      analytics.track({ userId: "019mr8mf4r", event: "Ultimate Played" }, function(err, batch) {
        if (err) return err.message
        return batch?.event.messageId
      })
    assert.isFunction(written)
  })

  it("a tracking plan's types are kept: never erased by the defaults, and only object Schemas and plans fit", () => {
    const plan = TrackingPlan.make({
      events: {
        Viewed: Schema.Struct({ page: Schema.optional(Schema.String) }),
        Bought: Schema.Struct({ sku: Schema.String })
      }
    })
    const typed = Object.create(Analytics.prototype) as Analytics<typeof plan>
    const untyped = (analytics: Analytics) => analytics
    const calls = () => {
      // Every property of Viewed is optional: so is `properties`.
      typed.track({ userId: "u1", event: "Viewed" })
      // @ts-expect-error Bought has a required property
      typed.track({ userId: "u1", event: "Bought" })
      // @ts-expect-error a typed client is not an untyped `Analytics`: its calls would lose their types
      untyped(typed)
      // @ts-expect-error `trackingPlan` takes a plan made by TrackingPlan.make, not any value
      const settings: AnalyticsSettings = { writeKey: "wk", trackingPlan: { events: {} } }
      // @ts-expect-error a properties Schema must describe an object
      TrackingPlan.make({ events: { Named: Schema.String } })
      return settings
    }
    // Never called: only their types are looked at.
    const withPlan = () => new Analytics({ writeKey: "wk", trackingPlan: plan })
    const withoutPlan = () => new Analytics({ writeKey: "wk" })
    expectTypeOf(withPlan).returns.toEqualTypeOf<Analytics<typeof plan>>()
    expectTypeOf(withoutPlan).returns.toEqualTypeOf<Analytics>()
    assert.isFunction(calls)
  })
})
