/**
 * A Cloudflare Worker using the Effect API: each request builds the client, sends the six calls, closes it, and
 * answers the summary. Bundled into one file and run by workerd without `nodejs_compat`.
 */
import type { Settings } from "./calls.ts"
import { run } from "./effect.ts"

export default {
  fetch: async (
    _request: Request,
    env: { readonly CUSTOMERIO_WRITE_KEY: string; readonly CUSTOMERIO_HOST: string }
  ) => {
    const settings: Settings = { writeKey: env.CUSTOMERIO_WRITE_KEY, host: env.CUSTOMERIO_HOST }
    return Response.json(await run(settings))
  }
}
