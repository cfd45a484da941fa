/**
 * The Promise facade with its default transport (node:http where the runtime has it, else fetch): six calls with
 * callbacks, then `closeAndFlush`, which must not resolve before every callback has its outcome.
 */
import { Analytics, type Callback } from "../../../src/index.ts"
import { calls, type Outcome, runtime, type Settings, type Summary } from "./calls.ts"

export const run = async (settings: Settings): Promise<Summary> => {
  const analytics = new Analytics(settings)
  const outcomes: Array<Outcome> = []
  const record = (type: string): Callback => (err, ctx) =>
    outcomes.push({
      type,
      messageId: String(ctx?.event.messageId),
      ...(err === undefined ? {} : { error: err.message })
    })
  analytics.identify(calls.identify, record("identify"))
  analytics.track({ ...calls.track, properties: { ...calls.track.properties, runtime: runtime() } }, record("track"))
  analytics.page(calls.page, record("page"))
  analytics.screen(calls.screen, record("screen"))
  analytics.group(calls.group, record("group"))
  analytics.alias(calls.alias, record("alias"))
  await analytics.closeAndFlush()
  return { runtime: runtime(), outcomes }
}
