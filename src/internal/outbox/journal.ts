/**
 * The file outbox as the engine sees it: messages in, envelopes out, outcomes recorded.
 *
 * A written message is handed straight back as an envelope when the engine has room for it and nothing older waits
 * on disk; otherwise it joins the backlog, and its callback waits here until {@link Journal.take} reads it back.
 * Every disk operation may throw (a full disk, an I/O error): the engine decides what each failure means.
 */
import { Envelope, type MessageCallback } from "../envelope.ts"
import type { FileLog, Position } from "./fileLog.ts"

// Segments are numbered from 1 and offsets are below 2^32: one number names a record.
const keyOf = (position: Position): number => position.segment * 0x1_0000_0000 + position.offset

export class Journal {
  readonly log: FileLog
  /** Callbacks of messages in the backlog. */
  readonly #waiting = new Map<number, { readonly position: Position; readonly callback: MessageCallback }>()

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

  /** Writes a message; returns its envelope if the engine takes it now (`handOut`), else keeps it in the backlog. */
  write(
    json: string,
    bytes: number,
    now: number,
    callback: MessageCallback | undefined,
    handOut: boolean
  ): Envelope | undefined {
    const { handedOut, position } = this.log.append(json, bytes, handOut)
    if (handedOut) return new Envelope(json, bytes, now, callback, position)
    if (callback !== undefined) this.#waiting.set(keyOf(position), { position, callback })
    return undefined
  }

  /** Up to `max` messages of the backlog, oldest first, read back from disk. */
  take(max: number, now: number): Array<Envelope> {
    return this.log.take(max).map((record) => {
      const key = keyOf(record.position)
      const waiting = this.#waiting.get(key)
      if (waiting !== undefined) this.#waiting.delete(key)
      return new Envelope(record.json, record.bytes, now, waiting?.callback, record.position)
    })
  }

  /**
   * Records the outcome of settled messages: they leave the outbox, or with `deadLetter` a failed one moves to the
   * dead-letter file.
   */
  settle(envelopes: ReadonlyArray<Envelope>, failed: boolean): void {
    if (failed && this.log.deadLetters) { for (const envelope of envelopes) this.log.deadLetter(envelope.json) }
    this.log.ack(envelopes.map((envelope) => envelope.position as Position))
  }

  /** The backlog's messages that have a callback: at close, they are told they were kept. They stay on disk. */
  awaited(now: number): Array<Envelope> {
    const out = [...this.#waiting.values()].map(({ callback, position }) => {
      const record = this.log.read(position)
      return new Envelope(record.json, record.bytes, now, callback, position)
    })
    this.#waiting.clear()
    return out
  }
}
