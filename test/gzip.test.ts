/**
 * The gzip body whose head changes per attempt (src/internal/gzip.ts): it must inflate, with Node's own zlib, to
 * exactly head + tail for any head and tail, and its CRC-32 arithmetic must agree with zlib's.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { crc32 as zlibCrc32, gunzipSync } from "node:zlib"
import { crc32 } from "../src/internal/crc32.ts"
import { crc32Combine, withFixedTail } from "../src/internal/gzip.ts"

const bytes = (s: string) => new TextEncoder().encode(s)

describe("gzip", () => {
  it("crc32 and crc32Combine agree with zlib", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string({ unit: "binary" }), (a, b) => {
        const [ab, bb] = [bytes(a), bytes(b)]
        assert.strictEqual(crc32(ab), zlibCrc32(ab))
        assert.strictEqual(crc32Combine(crc32(ab), crc32(bb), bb.length), zlibCrc32(Buffer.concat([ab, bb])))
      }),
      { seed: 3, numRuns: 300 }
    )
  })

  it.effect("a body made from a stored head and a tail deflated once inflates to head + tail", () =>
    Effect.gen(function*() {
      const samples = fc.sample(
        fc.tuple(fc.string({ unit: "binary", maxLength: 200 }), fc.string({ unit: "binary", maxLength: 20_000 })),
        { seed: 5, numRuns: 100 }
      )
      for (const [head, tail] of samples) {
        const assemble = yield* withFixedTail(tail)
        for (const h of [head, `${head}!`]) {
          assert.strictEqual(gunzipSync(assemble(h)).toString("utf8"), Buffer.from(h + tail, "utf8").toString("utf8"))
        }
      }
    }))
})
