/**
 * A Cloudflare Worker using the Effect API: each request builds the client, sends the six calls, closes it, and
 * answers the summary. Bundled into one file and run by workerd without `nodejs_compat`.
 */
import { run } from "./effect.ts"
import { workerOf } from "./worker.ts"

export default workerOf(run)
