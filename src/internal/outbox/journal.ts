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
import type { FileLog, Position } from "./fileLog.ts"

const keyOf = (position: Position): string => `${position.segment}:${position.offset}`

export class Journal {
  readonly log: FileLog
  /** Messages of the backlog with a callback. */
  readonly #waiting = new Map<string, Envelope>()

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
    const envelope = handedOut || callback !== undefined
      ? new Envelope(json, bytes, now, callback, position)
      : undefined
    if (!handedOut && envelope !== undefined) this.#waiting.set(keyOf(position), envelope)
    return handedOut ? envelope : undefined
  }

  /** Up to `max` messages of the backlog, oldest first, read back from disk. */
  take(max: number, now: number): Array<Envelope> {
    return this.log.take(max).map((record) => {
      const key = keyOf(record.position)
      const waiting = this.#waiting.get(key)
      if (waiting === undefined) return new Envelope(record.json, record.bytes, now, undefined, record.position)
      this.#waiting.delete(key)
      return waiting
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

  /** The backlog's messages that have a callback: at close, they are told they were kept. They stay on disk. */
  awaited(): Array<Envelope> {
    const out = [...this.#waiting.values()]
    this.#waiting.clear()
    return out
  }
}
