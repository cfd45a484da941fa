/**
 * A Cloudflare Worker that records a page view per request with the Effect API and `FetchHttpClient.layer`: it
 * needs no `nodejs_compat` flag, since the Effect API imports no `node:` module.
 *
 * A Worker's I/O belongs to the request that started it, so the client lives as long as one request: the layer is
 * built for the request and its scope closes when the program ends, which sends what is queued. `ctx.waitUntil`
 * keeps the Worker running for that, after the response has gone out.
 *
 * Deploy it with Wrangler (`wrangler deploy`, which bundles it), with the key as a secret:
 * `wrangler secret put CUSTOMERIO_WRITE_KEY`. `npm run test:runtimes` bundles it with rolldown and runs it in workerd
 * through miniflare.
 */
import { Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"
// In your project: import { AnalyticsClient } from "cdp-analytics-effect"
import { AnalyticsClient } from "../../src/index.ts"

/** The Worker's bindings: the secret and, optionally, another API host. */
interface Env {
  readonly CUSTOMERIO_WRITE_KEY: string
  readonly CUSTOMERIO_HOST?: string | undefined
}

/** The part of Workers' `ExecutionContext` used here (`@cloudflare/workers-types` has all of it). */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void
}

export default {
  async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
    const url = new URL(request.url)
    const visitor = request.headers.get("cf-connecting-ip") ?? "anonymous"

    const recordPageView = Effect.gen(function*() {
      const analytics = yield* AnalyticsClient.AnalyticsClient
      yield* analytics.page({
        anonymousId: visitor,
        name: url.pathname,
        properties: { path: url.pathname, search: url.search }
      })
    }).pipe(
      Effect.provide(
        AnalyticsClient.layer({ writeKey: env.CUSTOMERIO_WRITE_KEY, host: env.CUSTOMERIO_HOST }).pipe(
          Layer.provide(FetchHttpClient.layer)
        )
      ),
      // A failure to record must not become an error of the Worker: log it and go on.
      Effect.catchCause(Effect.logWarning)
    )

    ctx.waitUntil(Effect.runPromise(recordPageView))
    return new Response(`Hello from ${url.pathname}\n`)
  }
}
