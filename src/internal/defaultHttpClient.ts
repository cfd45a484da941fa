/**
 * The facade's `HttpClient` when the user gives none: `node:http` with keep-alive sockets where Node's modules
 * exist (Node, Bun, Deno), else the runtime's `fetch` (Cloudflare Workers, Vercel Edge, browsers).
 *
 * The Node client is imported dynamically, so the package root reaches no `node:` module and needs nothing besides
 * `effect` to load.
 */
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"

export const layer = (options: { readonly maxSockets: number }): Layer.Layer<HttpClient.HttpClient> =>
  Layer.unwrap(
    Effect.promise(() =>
      import("./nodeHttpClient.ts").then(
        (node) => node.layer(options),
        (error: unknown) => {
          // No node:http here: fetch is what this runtime offers. Anything else is a broken install, not a runtime
          // without Node's modules, and must not be papered over.
          if (String((error as { readonly message?: unknown })?.message ?? error).includes("node:")) {
            return FetchHttpClient.layer
          }
          throw error
        }
      )
    )
  )
