/**
 * The file outbox as the engine sees it: messages in, envelopes out, outcomes recorded.
 *
 * A written message is handed straight back as an envelope when the engine has room for it and nothing older waits
 * on disk; otherwise it joins the backlog and is read back by {@link Journal.take}. A backlog message whose caller
 * waits on a callback is also kept here, envelope and all: its callback must be told, even if its record cannot be
 * read back.
 * Every disk operation may throw (a full disk, an I/O error): the engine decides what each failure means.
 */
import { Envelope, type MessageCallback } from "../envelope.ts"
import { type Outcome, Settlement } from "../settlement.ts"
import type { FileLog, Position } from "./fileLog.ts"

const keyOf = (position: Position): string => `${position.segment}:${position.offset}`

export class Journal {
  readonly log: FileLog
  /** Messages of the backlog with a callback. */
  readonly #waiting = new Map<string, Envelope>()
  /**
   * Receipts of the other messages of the backlog. Held strongly: a caller may keep only what waits on one (a
   * `delivered` promise, a suspended fiber), which does not keep the receipt itself alive. A Settlement costs less
   * than a WeakRef to it (about 100 B against 150 B per backlog message, with the map entry).
   */
  readonly #receipts = new Map<string, Settlement>()

  constructor(log: FileLog) {
    this.log = log
  }

  get directory(): string {
    return this.log.directory
  }

  /** Messages written and not yet handed to the engine. */
  get backlog(): number {
    return this.log.backlog
  }

  hasRoom(bytes: number): boolean {
    return this.log.hasRoom(bytes)
  }

  /**
   * Writes a message; returns its envelope if the engine takes it now (`handOut`), else keeps it in the backlog.
   * Either way, `settlement` is what its receipt waits on.
   */
  write(
    json: string,
    bytes: number,
    now: number,
    callback: MessageCallback | undefined,
    handOut: boolean
  ): { readonly envelope: Envelope | undefined; readonly settlement: Settlement } {
    const { handedOut, position } = this.log.append(json, bytes, handOut)
    if (handedOut || callback !== undefined) {
      const envelope = new Envelope(json, bytes, now, callback, position)
      if (handedOut) return { envelope, settlement: envelope }
      this.#waiting.set(keyOf(position), envelope)
      return { envelope: undefined, settlement: envelope }
    }
    const settlement = new Settlement()
    this.#receipts.set(keyOf(position), settlement)
    return { envelope: undefined, settlement }
  }

  /** Up to `max` messages of the backlog, oldest first, read back from disk. */
  take(max: number, now: number): Array<Envelope> {
    return this.log.take(max).map((record) => {
      const key = keyOf(record.position)
      const waiting = this.#waiting.get(key)
      if (waiting !== undefined) {
        this.#waiting.delete(key)
        return waiting
      }
      const envelope = new Envelope(record.json, record.bytes, now, undefined, record.position)
      const receipt = this.#receipts.get(key)
      if (receipt !== undefined) {
        this.#receipts.delete(key)
        // The receipt was made before this envelope: it hears the outcome through it.
        envelope.watch((outcome) => receipt.finish(outcome))
      }
      return envelope
    })
  }

  /**
   * Records the outcome of settled messages: they leave the outbox, or with `deadLetter` a failed one moves to the
   * dead-letter file.
   */
  settle(envelopes: ReadonlyArray<Envelope>, failed: boolean): void {
    if (failed && this.log.deadLetters) this.log.deadLetter(envelopes.map((envelope) => envelope.json))
    this.log.ack(envelopes.map((envelope) => envelope.position as Position))
  }

  /**
   * The backlog's messages that have a callback: at close, they are told they were kept (their receipts too, with
   * `outcome`; what a receipt's waiter throws goes to `onDefect`). They stay on disk.
   */
  awaited(outcome: Outcome, onDefect: (defect: unknown) => void): Array<Envelope> {
    for (const receipt of this.#receipts.values()) {
      try {
        receipt.finish(outcome)
      } catch (defect) {
        onDefect(defect)
      }
    }
    this.#receipts.clear()
    const out = [...this.#waiting.values()]
    this.#waiting.clear()
    return out
  }
}
