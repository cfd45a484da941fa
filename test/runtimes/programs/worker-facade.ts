/**
 * A Cloudflare Worker using the Promise facade: each request makes an `Analytics`, sends the six calls, closes it and
 * answers the summary. Run without `nodejs_compat`, where there is no `node:http` and the facade must pick `fetch`,
 * and with it.
 */
import type { Settings } from "./calls.ts"
import { run } from "./facade.ts"

export default {
  fetch: async (
    _request: Request,
    env: { readonly CUSTOMERIO_WRITE_KEY: string; readonly CUSTOMERIO_HOST: string }
  ) => {
    const settings: Settings = { writeKey: env.CUSTOMERIO_WRITE_KEY, host: env.CUSTOMERIO_HOST }
    return Response.json(await run(settings))
  }
}
