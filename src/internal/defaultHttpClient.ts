/**
 * The facade's `HttpClient` when the user gives none: `node:http` with keep-alive sockets where Node's modules
 * exist (Node, Bun, Deno, Workers with `nodejs_compat`), else the runtime's `fetch` (Workers without it, Vercel Edge,
 * browsers).
 *
 * Only `import()` reaches `node:` here, and only here: the client module takes Node's modules as arguments and imports
 * none. A bundler that puts everything in one file (how Workers are bundled) inlines the client but keeps these
 * `import("node:http")` calls as they are, so the Worker loads, and a runtime without `node:http` rejects them and gets
 * `fetch`. Static imports would have been hoisted to the top of the bundle and stopped it from loading at all.
 */
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"

export const layer = (options: { readonly maxSockets: number }): Layer.Layer<HttpClient.HttpClient> =>
  Layer.unwrap(
    Effect.promise(() => {
      // Started together: on Node the client module is needed as surely as its built-ins, and waiting for one before
      // loading the other would only add a turn to the first request.
      const client = import("./nodeHttpClient.ts")
      return Promise.all([import("node:http"), import("node:https")]).then(
        ([http, https]) => client.then((node) => node.layer({ http, https }, options)),
        () => {
          // No node:http here: fetch is what this runtime offers. The Node client is not needed; its promise is
          // settled quietly so that it cannot end as an unhandled rejection.
          client.catch(() => undefined)
          return FetchHttpClient.layer
        }
      )
    })
  )
