/**
 * The outcome of one accepted message, which receipts wait for: set once, when the message is settled (delivered,
 * finally failed, or kept in the outbox at close), or at once for a call that was refused or dropped.
 *
 * Watchers are kept only while someone waits, so a message whose outcome nobody asks for costs two fields.
 */
import type { AnalyticsError } from "../AnalyticsError.ts"

/** `null`: delivered (or dropped on purpose by `beforeSend`); an error: not delivered. */
export type Outcome = AnalyticsError | null

export class Settlement {
  /** `undefined` while the message is pending. */
  outcome: Outcome | undefined = undefined
  #watchers: Array<(outcome: Outcome) => void> | undefined = undefined

  static settled(outcome: Outcome): Settlement {
    const settlement = new Settlement()
    settlement.outcome = outcome
    return settlement
  }

  /** Records the outcome and tells whoever waits (as {@link notify}); only the first call counts. */
  finish(outcome: Outcome): void {
    if (this.outcome !== undefined) return
    this.outcome = outcome
    this.notify()
  }

  /**
   * Tells whoever waits the outcome already recorded (for a settler that records first and tells later). Every
   * watcher is told even if one throws; the first exception is then rethrown, for the settler to report.
   */
  notify(): void {
    const watchers = this.#watchers
    const outcome = this.outcome
    this.#watchers = undefined
    if (watchers === undefined || outcome === undefined) return
    let defect: { readonly error: unknown } | undefined
    for (const watcher of watchers) {
      try {
        watcher(outcome)
      } catch (error) {
        defect ??= { error }
      }
    }
    if (defect !== undefined) throw defect.error
  }

  /** Calls `watcher` once with the outcome (at once if it is known); returns what stops waiting. */
  watch(watcher: (outcome: Outcome) => void): () => void {
    if (this.outcome !== undefined) {
      watcher(this.outcome)
      return () => {}
    }
    const watchers = this.#watchers ??= []
    watchers.push(watcher)
    return () => {
      const index = this.#watchers?.indexOf(watcher) ?? -1
      if (index !== -1) this.#watchers!.splice(index, 1)
    }
  }
}
