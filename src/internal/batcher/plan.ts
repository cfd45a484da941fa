/**
 * The batching rules as a pure function: the batch being formed, plus what the consumer took from the queue, gives
 * the next batch and the actions to run. No clock, no fiber, no queue: the dispatcher owns those, and this module is
 * tested on its own (test/plan.test.ts).
 *
 * - The very first message after start is sent at once.
 * - A batch is sent when it holds `maxEventsInBatch` messages, when the next message would push the request body
 *   past `maxBatchBytes`, when its oldest message has waited `flushIntervalMillis` ({@link expire}), when a flush
 *   marker reaches it, and when the queue ends ({@link drain}).
 */

/** What the planner needs of a message. */
export interface Item {
  /** UTF-8 bytes of the message's JSON. */
  readonly bytes: number
  /** Clock time (ms) when the message was accepted: the age trigger counts from here. */
  readonly enqueuedAt: number
}

/** A flush travelling through the queue: everything queued before it goes out now. */
export class Flush {
  readonly _tag = "Flush"
}

export interface Limits {
  readonly maxEventsInBatch: number
  readonly flushIntervalMillis: number
  readonly maxBatchBytes: number
}

export interface State<A extends Item> {
  /** The batch being formed, in call order. */
  readonly batch: ReadonlyArray<A>
  /** The request body's bytes if `batch` were sent now. */
  readonly bytes: number
  readonly sentFirst: boolean
}

/** `{"sentAt":"2024-01-01T00:00:00.000Z","batch":[` + `]}`: the body's bytes besides the messages and commas. */
export const bodyOverhead = 48

export const initial: State<never> = { batch: [], bytes: bodyOverhead, sentFirst: false }

export interface Step<A extends Item> {
  readonly state: State<A>
  /** Batches to send, in order. */
  readonly send: ReadonlyArray<ReadonlyArray<A>>
}

const emptyAfterFirst: State<never> = { batch: [], bytes: bodyOverhead, sentFirst: true }

/** Adds what the consumer took (messages and flush markers, in queue order) to the batch being formed. */
export const take = <A extends Item>(
  limits: Limits,
  state: State<A>,
  items: ReadonlyArray<A | Flush>
): Step<A> => {
  const send: Array<ReadonlyArray<A>> = []
  let batch: Array<A> = state.batch.slice()
  let bytes = state.bytes
  const cut = () => {
    if (batch.length === 0) return
    send.push(batch)
    batch = []
    bytes = bodyOverhead
  }
  for (const item of items) {
    if (item instanceof Flush) {
      cut()
      continue
    }
    if (batch.length > 0 && bytes + item.bytes + 1 > limits.maxBatchBytes) cut()
    batch.push(item)
    bytes += item.bytes + 1
    if (batch.length >= limits.maxEventsInBatch) cut()
  }
  // The first message after start goes at once, so short scripts and first deploys see data immediately.
  if (!state.sentFirst) cut()
  return { state: { batch, bytes, sentFirst: state.sentFirst || send.length > 0 }, send }
}

/** When the age trigger fires for the batch being formed, or `undefined` when it is empty. */
export const deadline = <A extends Item>(limits: Limits, state: State<A>): number | undefined =>
  state.batch.length === 0 ? undefined : state.batch[0]!.enqueuedAt + limits.flushIntervalMillis

/** Sends the batch being formed if its oldest message has waited `flushIntervalMillis` by `now`. */
export const expire = <A extends Item>(limits: Limits, state: State<A>, now: number): Step<A> => {
  const due = deadline(limits, state)
  return due === undefined || now < due ? { state, send: [] } : drain(state)
}

/** Sends the batch being formed, whatever its age: the queue ended. */
export const drain = <A extends Item>(state: State<A>): Step<A> =>
  state.batch.length === 0
    ? { state, send: [] }
    : { state: emptyAfterFirst, send: [state.batch] }

/** How many messages may still join the batch being formed before the count trigger fires. */
export const room = <A extends Item>(limits: Limits, state: State<A>): number =>
  Math.max(1, limits.maxEventsInBatch - state.batch.length)
