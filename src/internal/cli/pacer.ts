/**
 * `--rate N`: holds the import to N events per second on average. Each event takes the next slot of `1/N` s; after a
 * pause (a `Retry-After`, a slow disk) the slots missed are not made up beyond a short burst, so the rate stays steady
 * instead of catching up. Waits shorter than `minWaitMillis` are not taken (a timer cannot sleep 20 µs): the next
 * longer one makes up for them.
 */
export class Pacer {
  readonly #intervalMillis: number
  readonly #burstMillis: number
  readonly #minWaitMillis: number
  #next = Number.NEGATIVE_INFINITY

  constructor(perSecond: number, options: { readonly burstMillis?: number; readonly minWaitMillis?: number } = {}) {
    this.#intervalMillis = 1000 / perSecond
    this.#burstMillis = options.burstMillis ?? 100
    this.#minWaitMillis = options.minWaitMillis ?? 10
  }

  /** Takes the next slot at `now` (milliseconds): how long to wait before sending, 0 for at once. */
  take(now: number): number {
    const slot = Math.max(this.#next, now - this.#burstMillis)
    this.#next = slot + this.#intervalMillis
    const wait = slot - now
    return wait >= this.#minWaitMillis ? wait : 0
  }
}
