/**
 * The body of one batch's requests: `{"sentAt":"<time of the attempt>","batch":[<messages>]}`.
 *
 * The messages' JSON was built once when each call was accepted; here it is joined once per batch, and each attempt
 * only puts its own `sentAt` in front. `sentAt` comes first so that, with gzip, the batch is compressed once for all
 * attempts (see `gzip.ts`).
 */
import * as Effect from "effect/Effect"
import * as Gzip from "./gzip.ts"

export interface Body {
  /** Messages in the batch. */
  readonly messages: number
  readonly text: (sentAt: string) => string
  /** The gzip-compressed body; the batch is compressed on the first call only. */
  readonly gzip: (sentAt: string) => Effect.Effect<Uint8Array>
}

const head = (sentAt: string) => `{"sentAt":"${sentAt}","batch":[`

export const make = (jsons: ReadonlyArray<string>): Body => {
  const tail = `${jsons.join(",")}]}`
  let compressed: ((head: string) => Uint8Array) | undefined
  return {
    messages: jsons.length,
    text: (sentAt) => head(sentAt) + tail,
    gzip: (sentAt) =>
      compressed !== undefined
        ? Effect.sync(() => compressed!(head(sentAt)))
        : Effect.map(Gzip.withFixedTail(tail), (assemble) => {
          compressed = assemble
          return assemble(head(sentAt))
        })
  }
}
