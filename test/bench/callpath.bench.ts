/**
 * Micro-benchmarks of the call path (`npx vitest bench`): what one call costs the caller, with the network out of
 * the picture (the clients are built with `disable: true`). The end-to-end benchmark is `npm run bench`.
 */
import * as Effect from "effect/Effect"
import { afterAll, test } from "vitest"
import * as CallPath from "./callpath.ts"
import * as Event from "./event.ts"

// Local copies: under vitest's module runner every access to an imported binding goes through a getter.
const { encodeBatch, makeEffectClient, makeEncoder, makeFacade } = CallPath
const { makeEvent } = Event

// Room for every call tinybench makes: a full queue would measure the refusal path instead.
const facade = makeFacade(5_000_000)
const effect = makeEffectClient()
const encode = makeEncoder()

afterAll(async () => {
  await facade.closeAndFlush()
  await effect.runtime.dispose()
})

const options = { time: 1_000, warmupTime: 300 }

/** The table shows means and upper percentiles; the targets are about medians, so those are printed too. */
const printMedians = <N extends string>(
  results: { readonly get: (name: N) => { readonly latency: { readonly p50?: number | undefined } } },
  names: ReadonlyArray<N>
) => {
  for (const name of names) {
    const p50 = results.get(name).latency.p50
    console.log(`median ${name}: ${p50 === undefined ? "?" : (p50 * 1000).toFixed(2)} µs`)
  }
}

test("call path: one call with the realistic event", async ({ bench }) => {
  let i = 0
  const results = await bench.compare(
    bench("facade track", () => {
      facade.track(makeEvent(i++))
    }),
    bench("Effect API track (Effect.runSync per call)", () => {
      Effect.runSync(effect.client.track(makeEvent(i++)))
    }),
    bench("the event alone (makeEvent, included above)", () => {
      makeEvent(i++)
    }),
    options
  )
  printMedians(results, [
    "facade track",
    "Effect API track (Effect.runSync per call)",
    "the event alone (makeEvent, included above)"
  ])
})

test("encode a batch and measure its bytes", async ({ bench }) => {
  let offset = 0
  const results = await bench.compare(
    bench("20 events (the default batch)", () => {
      encodeBatch(encode, 20, offset)
      offset += 20
    }),
    bench("100 events", () => {
      encodeBatch(encode, 100, offset)
      offset += 100
    }),
    options
  )
  printMedians(results, ["20 events (the default batch)", "100 events"])
})
