/**
 * The call path on its own, without the network: the clients send nothing (`disable: true` settles each batch at
 * once), so only validation, encoding and queueing are measured. Shared by `callpath.bench.ts` (vitest bench) and
 * `run.ts`, which runs this file as a child process for the per-call median in its summary.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Random from "effect/Random"
import { Analytics } from "../../src/Analytics.ts"
import * as AnalyticsClient from "../../src/AnalyticsClient.ts"
import * as Message from "../../src/Message.ts"
import { makeEvent } from "./event.ts"

/** Calls between two (unmeasured) flushes, so the queue never fills. */
export const chunk = 10_000

export const makeFacade = (maxQueueSize?: number) =>
  new Analytics({ writeKey: "bench-write-key", disable: true, ...(maxQueueSize === undefined ? {} : { maxQueueSize }) })

/** An Effect API client on a runtime; its `HttpClient` is never called (`disable: true`). */
export const makeEffectClient = () => {
  const runtime = ManagedRuntime.make(
    AnalyticsClient.layer({ writeKey: "bench-write-key", disable: true }).pipe(Layer.provide(FetchHttpClient.layer))
  )
  const client = runtime.runSync(AnalyticsClient.AnalyticsClient)
  return { runtime, client }
}

/** The encoder alone, with the same `Clock` and `Random` the client uses. */
export const makeEncoder = () =>
  Effect.runSync(Effect.gen(function*() {
    const clock = yield* Clock.Clock
    const random = yield* Random.Random
    const { uuidV4 } = Message
    return Message.makeEncoder({ now: () => clock.currentTimeMillisUnsafe(), uuid: () => uuidV4(random) })
  }))

/** Joins encoded messages into a request body and measures it, as the transport and the batcher do. */
export const encodeBatch = (encode: ReturnType<typeof makeEncoder>, size: number, offset: number) => {
  const jsons: Array<string> = []
  for (let i = 0; i < size; i++) {
    const encoded = encode("track", makeEvent(offset + i))
    if (encoded._tag === "Failure") throw new Error(encoded.failure.message)
    jsons.push(encoded.success.json)
  }
  const body = `{"batch":[${jsons.join(",")}],"sentAt":"${new Date().toISOString()}"}`
  return { body, bytes: Message.utf8Length(body) }
}

const median = (values: Array<number>) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!

/** Median per-call time (µs) of facade `track`, each call timed on its own. */
export const measureFacadeTrack = async (calls: number): Promise<number> => {
  const analytics = makeFacade()
  const times: Array<number> = []
  for (let done = 0; done < calls;) {
    for (let i = 0; i < chunk && done < calls; i++, done++) {
      const event = makeEvent(done)
      // performance.now() itself: the epoch-based now() has a quarter-microsecond resolution at today's dates
      const t0 = performance.now()
      analytics.track(event)
      times.push(performance.now() - t0)
    }
    await analytics.flush()
  }
  await analytics.closeAndFlush()
  return median(times) * 1000
}

if (process.argv[2] === "--child") {
  const calls = Number(process.argv[3] ?? 200_000)
  const facadeTrackMicros = await measureFacadeTrack(calls)
  process.send!({ type: "callpath", facadeTrackMicros }, () => process.exit(0))
}
