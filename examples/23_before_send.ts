/**
 * `beforeSend`: a function that sees a copy of every message just before it is sent. Return it (changed or not) to
 * send it, or `null` to drop it. What it returns is rebuilt as a call's params are (checked, normalized, keys of no
 * field dropped, the tracking plan applied again) and measured, so what is sent is always valid. Here it tags
 * every message with the app's build, removes an email from `properties`, and drops health checks. Run it: `npm run
 * example -- before_send`. The Effect API's version (steps that read the caller's span and HTTP request) is in
 * docs/tracking-plan.md.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const analytics = new Analytics({
  writeKey: CUSTOMERIO_WRITE_KEY,
  host: CUSTOMERIO_HOST,
  beforeSend: (message) => {
    if (message.type === "track" && message.event === "Health Check") return null
    const { email: _email, ...properties } = (message.properties ?? {}) as Record<string, unknown>
    return {
      ...message,
      ...(message.properties === undefined ? {} : { properties: properties as typeof message.properties }),
      context: { ...message.context, app: { name: "shop", build: "2026.12.1" } }
    }
  }
})

analytics.track({ userId: "019mr8mf4r", event: "Health Check" }, (err) => {
  if (!err) console.log("the health check was dropped, and its callback told so without an error")
})
analytics.track({ userId: "019mr8mf4r", event: "Newsletter Signup", properties: { email: "ada@example.com" } })

await analytics.closeAndFlush()
