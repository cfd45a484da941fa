/**
 * A Cloudflare Worker using the Promise facade: each request makes an `Analytics`, sends the six calls, closes it and
 * answers the summary. Run without `nodejs_compat`, where there is no `node:http` and the facade must pick `fetch`,
 * and with it.
 */
import { run } from "./facade.ts"
import { workerOf } from "./worker.ts"

export default workerOf(run)
