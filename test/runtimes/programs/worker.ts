/** A Cloudflare Worker's entry: each request runs `run` with the Worker's settings and answers its summary. */
import type { Settings } from "./calls.ts"

export const workerOf = (run: (settings: Settings) => Promise<unknown>) => ({
  fetch: async (
    _request: Request,
    env: { readonly CUSTOMERIO_WRITE_KEY: string; readonly CUSTOMERIO_HOST: string }
  ) => Response.json(await run({ writeKey: env.CUSTOMERIO_WRITE_KEY, host: env.CUSTOMERIO_HOST }))
})
