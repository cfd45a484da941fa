/**
 * An accepted message as the engine carries it, from acceptance until it is settled.
 */
import type { AnalyticsError } from "../AnalyticsError.ts"
import type * as Message from "../Message.ts"
import type * as Dispatch from "./batcher/dispatch.ts"
import type { Position } from "./outbox/fileLog.ts"
import { Settlement } from "./settlement.ts"
import type * as Transport from "./transport.ts"

/** Told once when its own message is settled; a promise it returns is the facade's to wait for at close. */
export type MessageCallback = (error: AnalyticsError | undefined, envelope: Envelope) => unknown

/**
 * An accepted message: its JSON (encoded once), its size, and who to tell when it is settled.
 *
 * Only the JSON is kept, not the message object (nor, through it, the caller's properties): a queued message is
 * then one flat string, half the heap of the object graph, and the garbage collector has one object to move
 * instead of a tree. The few who need the message (callbacks, event listeners, failures) get it parsed back from
 * that JSON, which is exactly what was sent.
 */
export class Envelope extends Settlement implements Dispatch.Item, Transport.Payload {
  readonly json: string
  readonly bytes: number
  readonly enqueuedAt: number
  readonly callback: MessageCallback | undefined
  /** Where it is in the outbox, if there is one: a record of the file outbox, or a row id of the PostgreSQL one. */
  readonly position: Position | bigint | undefined
  lastError: AnalyticsError | undefined = undefined
  // The ledger's fields.
  seq = 0
  prev: Envelope | undefined = undefined
  next: Envelope | undefined = undefined
  #message: Message.WireMessage | undefined
  constructor(
    json: string,
    bytes: number,
    enqueuedAt: number,
    callback: MessageCallback | undefined,
    position?: Position | bigint | undefined
  ) {
    super()
    this.json = json
    this.bytes = bytes
    this.enqueuedAt = enqueuedAt
    this.callback = callback
    this.position = position
  }
  /** The message as sent, parsed from its JSON on first use. */
  get message(): Message.WireMessage {
    return this.#message ??= JSON.parse(this.json)
  }
}
