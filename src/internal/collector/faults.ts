/**
 * Fault injection: the scripted answers, the failure rate, and what an injected fault answers. The code API
 * (`script`, `failureRate`) and the inspector's controls (`/inspector/api/faults`) both queue answers here; the
 * Pipelines endpoint draws one per request.
 */
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Random from "effect/Random"
import * as Http from "node:http"
import type { Answer, FailureRate } from "./model.ts"

interface Failure {
  readonly rate: number
  readonly status: number
  readonly retryAfter: number | string | undefined
  readonly random: Random.Random
}

/** A fault drawn for one request: a scripted answer, or a draw of the failure rate. */
export type Drawn = Answer | {
  readonly _tag: "FailureRate"
  readonly status: number
  readonly retryAfter: number | string | undefined
}

/** What is queued, for the inspector: consecutive equal answers as one line (`503 × 3`). */
export interface Pending {
  readonly answer: string
  readonly count: number
}

const label = (answer: Answer): string => {
  switch (answer._tag) {
    case "Status":
      return answer.retryAfter === undefined
        ? String(answer.status)
        : `${answer.status} Retry-After ${answer.retryAfter}`
    case "Latency":
      return `latency ${Duration.format(Duration.fromInputUnsafe(answer.delay))}`
    case "Hang":
      return "hang"
    case "Drop":
      return "drop"
    case "Normal":
      return "normal"
  }
}

export class Faults {
  private scripted: Array<Answer> = []
  private failure: Failure | undefined

  private readonly ambientRandom: Random.Random

  constructor(ambientRandom: Random.Random) {
    this.ambientRandom = ambientRandom
  }

  /** The fault for the request that just arrived: the next scripted answer, else a draw of the failure rate. */
  readonly next: Effect.Effect<Drawn | undefined> = Effect.suspend(() => {
    const answer = this.scripted.shift()
    if (answer !== undefined) return Effect.succeed(answer)
    const failure = this.failure
    if (failure === undefined || failure.rate <= 0) return Effect.undefined
    return Random.next.pipe(
      Effect.provideService(Random.Random, failure.random),
      Effect.map((draw): Drawn | undefined =>
        draw < failure.rate
          ? { _tag: "FailureRate", status: failure.status, retryAfter: failure.retryAfter }
          : undefined
      )
    )
  })

  script(answers: Iterable<Answer>): void {
    this.scripted.push(...answers)
  }

  failureRate(settings: FailureRate): Effect.Effect<void> {
    if (!(settings.rate >= 0 && settings.rate <= 1)) {
      return Effect.die(new RangeError(`failureRate: rate must be between 0 and 1, got ${settings.rate}`))
    }
    // A seed gets its own generator, kept across requests, so the sequence of draws is the same on every run.
    const random = settings.seed === undefined
      ? Effect.succeed(this.ambientRandom)
      : Random.Random.pipe(Random.withSeed(settings.seed))
    return Effect.map(random, (generator) => {
      this.failure = {
        rate: settings.rate,
        status: settings.status ?? 500,
        retryAfter: settings.retryAfter,
        random: generator
      }
    })
  }

  /** Forgets the scripted answers and the failure rate. */
  clear(): void {
    this.scripted = []
    this.failure = undefined
  }

  pending(): ReadonlyArray<Pending> {
    const out: Array<{ answer: string; count: number }> = []
    for (const answer of this.scripted) {
      const text = label(answer)
      const last = out[out.length - 1]
      if (last !== undefined && last.answer === text) last.count++
      else out.push({ answer: text, count: 1 })
    }
    return out
  }

  /** The failure rate in force, for the inspector. */
  rate(): { readonly rate: number; readonly status: number } | undefined {
    return this.failure === undefined || this.failure.rate <= 0
      ? undefined
      : { rate: this.failure.rate, status: this.failure.status }
  }
}

/**
 * The answer of a status fault: the scripted body, or the API's own shape of an error. `Retry-After` is sent verbatim.
 */
export const statusResponse = (
  status: number,
  retryAfter: number | string | undefined,
  body: string | undefined
): HttpServerResponse.HttpServerResponse => {
  const headers = retryAfter === undefined ? undefined : { "retry-after": String(retryAfter) }
  if (body !== undefined) {
    return HttpServerResponse.text(body, { status, ...(headers === undefined ? {} : { headers }) })
  }
  return HttpServerResponse.jsonUnsafe(
    { success: false, error: `fault injected by the collector: ${status}` },
    headers === undefined ? { status } : { status, headers }
  )
}

/** Destroys the connection without answering: the client sees a network error. */
export const drop = (request: HttpServerRequest.HttpServerRequest): HttpServerResponse.HttpServerResponse => {
  const response = NodeHttpServerRequest.toServerResponse(request)
  // Destroying the response destroys its socket and marks it destroyed at once, so the server writes nothing.
  if (response instanceof Http.ServerResponse) response.destroy()
  else NodeHttpServerRequest.toIncomingMessage(request).socket.destroy()
  return HttpServerResponse.empty({ status: 500 })
}
