/**
 * The store of records: what the code API reads (accepted messages de-duplicated by `messageId`, requests, stats) and
 * what the inspector shows (every message of every request, as received, with its checks). Each request is recorded
 * in one synchronous step, so concurrent requests never interleave, and the counters are exact whatever is retained.
 */
import * as Effect from "effect/Effect"
import { type Check, checkMessage, planChecker } from "./checks.ts"
import type { Options, ReceivedMessage, RequestRecord, Snapshot, Stats } from "./model.ts"

/** The inspector keeps at most this many messages and requests, unless `retain` says otherwise. */
export const defaultInspectorRetain = 100_000

/**
 * And at most this much message JSON (its string length, as the page counts it too), so a stream of 32 KB messages
 * cannot take the memory, here or in the page.
 */
export const inspectorMaxBytes = 64 * 1024 * 1024

/** An array that forgets its oldest items beyond `limit`; `items` is the live array when nothing was forgotten. */
export class Ring<A> {
  private items: Array<A> = []
  private head = 0

  private readonly limit: number

  constructor(limit: number) {
    this.limit = limit
  }

  get length(): number {
    return this.items.length - this.head
  }

  get(index: number): A | undefined {
    return index < 0 ? undefined : this.items[this.head + index]
  }

  /** Adds an item; returns the one forgotten to make room, if any. */
  push(item: A): A | undefined {
    this.items.push(item)
    return this.length > this.limit ? this.dropFirst() : undefined
  }

  dropFirst(): A | undefined {
    if (this.length === 0) return undefined
    const first = this.items[this.head]
    // Let go of it now: the slot stays until the next compaction, and a forgotten item must not count against memory.
    this.items[this.head] = undefined as A
    this.head++
    // Compact once half the array is forgotten: amortized O(1) per item.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return first
  }

  /** The items; the live array itself when none was forgotten (callers must not keep it across changes). */
  view(): ReadonlyArray<A> {
    return this.head === 0 ? this.items : this.items.slice(this.head)
  }

  copy(): Array<A> {
    return this.items.slice(this.head)
  }
}

/** Wakes waiters on each change, without polling: the version only grows. */
export class Signal {
  version = 0
  private readonly waiters = new Set<() => void>()

  bump(): void {
    this.version++
    const waiting = [...this.waiters]
    this.waiters.clear()
    for (const wake of waiting) wake()
  }

  /** Completes once the version is past `seen`. */
  wait(seen: number): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if (this.version > seen) return resume(Effect.void)
      const wake = () => resume(Effect.void)
      this.waiters.add(wake)
      return Effect.sync(() => {
        this.waiters.delete(wake)
      })
    })
  }
}

/** What became of a message: accepted, a copy of one accepted before, or in a request that was not accepted. */
export type Outcome = "accepted" | "duplicate" | "refused"

/** One message as the inspector shows it. */
export interface MessageEntry {
  /** From 1, across every message received, in arrival order. */
  readonly seq: number
  /** The `seq` of its request. */
  readonly request: number
  /** Its index in the batch. */
  readonly index: number
  readonly at: number
  readonly value: unknown
  /** Its JSON, as measured. */
  readonly json: string
  readonly bytes: number
  readonly outcome: Outcome
  readonly checks: ReadonlyArray<Check>
}

/** One request as the inspector shows it. */
export interface RequestEntry {
  /** From 1, in arrival order. */
  readonly seq: number
  readonly record: RequestRecord
  /** The `seq` of its first message, and how many it has in the inspector (0 when the body was not a batch). */
  readonly first: number
  readonly count: number
}

/** A message of a batch: the parsed value, its JSON and size. */
export interface Item {
  readonly value: unknown
  readonly json: string
  readonly bytes: number
}

/** The inspector's counters, exact whatever is retained. */
export interface Counters {
  /** Messages received, in any request: copies and messages of refused requests included. */
  readonly received: number
  /** Messages with at least one error (the API refuses them), and with warnings only. */
  readonly errors: number
  readonly warnings: number
  /** Received messages by check rule. */
  readonly byRule: Readonly<Record<string, number>>
  /** Requests refused for their `Host` header, and the last such header. */
  readonly refusedHosts: number
  readonly lastRefusedHost: string | undefined
}

export class Store {
  // The code API's records.
  readonly messages: Ring<ReceivedMessage>
  readonly requests: Ring<RequestRecord>
  // messageId -> seq of the message first accepted with it. Maps, not objects: a "type" may be "__proto__".
  private readonly seen = new Map<string, number>()
  private readonly byType = new Map<string, number>()
  private readonly answers = new Map<string, number>()
  private accepted = 0
  private duplicates = 0
  private bytes = 0
  private retries = 0
  private requestCount = 0

  // The inspector's records.
  readonly entries: Ring<MessageEntry>
  readonly requestEntries: Ring<RequestEntry>
  private entryBytes = 0
  private received = 0
  private errors = 0
  private warnings = 0
  private readonly byRule = new Map<string, number>()
  private refusedHosts = 0
  private lastRefusedHost: string | undefined
  private readonly plan: ReturnType<typeof planChecker>

  constructor(options: Pick<Options, "retain" | "trackingPlan">) {
    const retain = options.retain ?? Number.POSITIVE_INFINITY
    this.messages = new Ring(retain)
    this.requests = new Ring(retain)
    const inspector = Math.min(retain, defaultInspectorRetain)
    this.entries = new Ring(inspector)
    this.requestEntries = new Ring(inspector)
    this.plan = planChecker(options.trackingPlan)
  }

  /** The number of distinct messages accepted, all of them (`messages` may hold fewer). */
  get acceptedCount(): number {
    return this.accepted
  }

  stats(): Stats {
    return {
      requests: this.requestCount,
      messages: this.accepted,
      byType: Object.fromEntries(this.byType),
      duplicates: this.duplicates,
      bytes: this.bytes,
      retries: this.retries,
      answers: Object.fromEntries(this.answers)
    }
  }

  counters(): Counters {
    return {
      received: this.received,
      errors: this.errors,
      warnings: this.warnings,
      byRule: Object.fromEntries(this.byRule),
      refusedHosts: this.refusedHosts,
      lastRefusedHost: this.lastRefusedHost
    }
  }

  /** Counts a request refused for its `Host` header (it is not recorded otherwise). */
  refuseHost(header: string | undefined): void {
    this.refusedHosts++
    this.lastRefusedHost = header
  }

  snapshot(): Snapshot {
    return { messages: this.messages.copy(), requests: this.requests.copy(), stats: this.stats() }
  }

  /** The live arrays, for predicates run on every change (no copy when nothing was forgotten). */
  view(): Snapshot {
    return { messages: this.messages.view(), requests: this.requests.view(), stats: this.stats() }
  }

  /**
   * Records one request and its messages. With `accept`, its messages are accepted (new ones) or counted as
   * duplicates; else they are shown as refused. Returns the request as recorded.
   */
  record(
    request: Omit<RequestRecord, "accepted" | "duplicates">,
    items: ReadonlyArray<Item>,
    accept: boolean
  ): RequestRecord {
    const seq = this.requestCount + 1
    const first = this.received + 1
    let accepted = 0
    let duplicates = 0
    for (let index = 0; index < items.length; index++) {
      const item = items[index]!
      const entrySeq = this.received + 1
      const value = item.value as ReceivedMessage
      // An empty messageId is no id (the checks flag it), not one that all such messages share.
      const id = typeof value === "object" && value !== null && typeof value.messageId === "string"
          && value.messageId !== ""
        ? value.messageId
        : undefined
      const firstSeen = id === undefined ? undefined : this.seen.get(id)
      let outcome: Outcome = "refused"
      if (accept) {
        if (firstSeen !== undefined) {
          outcome = "duplicate"
          duplicates++
        } else {
          outcome = "accepted"
          accepted++
          if (id !== undefined) this.seen.set(id, entrySeq)
          this.messages.push(value)
          this.byType.set(value.type, (this.byType.get(value.type) ?? 0) + 1)
        }
      }
      const checks = checkMessage(item.value, item.bytes, request.at, this.plan)
      if (firstSeen !== undefined) {
        checks.push({
          level: "warning",
          rule: "duplicate",
          message: `"messageId" ${JSON.stringify(id)} was accepted before (message #${firstSeen})${
            accept ? ": this copy is dropped" : ""
          }`
        })
      }
      this.entry({
        seq: entrySeq,
        request: seq,
        index,
        at: request.at,
        value: item.value,
        json: item.json,
        bytes: item.bytes,
        outcome,
        checks
      })
    }
    this.accepted += accepted
    this.duplicates += duplicates
    const record: RequestRecord = { ...request, accepted, duplicates }
    this.requestCount = seq
    this.requests.push(record)
    this.bytes += record.bytes
    if (record.retryCount !== undefined && record.retryCount > 0) this.retries++
    const key = record.status === undefined ? record.fault ?? "none" : String(record.status)
    this.answers.set(key, (this.answers.get(key) ?? 0) + 1)
    this.requestEntries.push({ seq, record, first, count: items.length })
    return record
  }

  private entry(entry: MessageEntry): void {
    this.received = entry.seq
    let error = false
    const rules = new Set<string>()
    for (const check of entry.checks) {
      if (check.level === "error") error = true
      rules.add(check.rule)
    }
    if (error) this.errors++
    else if (entry.checks.length > 0) this.warnings++
    for (const rule of rules) this.byRule.set(rule, (this.byRule.get(rule) ?? 0) + 1)
    this.entryBytes += entry.json.length
    const forgotten = this.entries.push(entry)
    if (forgotten !== undefined) this.entryBytes -= forgotten.json.length
    // The Ring forgets by count; this forgets by size, keeping at least the newest.
    while (this.entryBytes > inspectorMaxBytes && this.entries.length > 1) {
      const dropped = this.entries.dropFirst()
      if (dropped !== undefined) this.entryBytes -= dropped.json.length
    }
  }

  /** The inspector's message with this `seq`, if still retained. */
  entryAt(seq: number): MessageEntry | undefined {
    const first = this.entries.get(0)
    return first === undefined ? undefined : this.entries.get(seq - first.seq)
  }

  /** The inspector's request with this `seq`, if still retained. */
  requestAt(seq: number): RequestEntry | undefined {
    const first = this.requestEntries.get(0)
    return first === undefined ? undefined : this.requestEntries.get(seq - first.seq)
  }

  /**
   * The requests after `after` (a request `seq`), whole, with their retained messages, until at least `limit`
   * messages or `maxRequests` requests: the inspector's unit of update.
   */
  requestsAfter(after: number, limit: number, maxRequests = Number.POSITIVE_INFINITY): {
    readonly requests: ReadonlyArray<RequestEntry>
    readonly messages: ReadonlyArray<MessageEntry>
  } {
    const firstRequest = this.requestEntries.get(0)
    if (firstRequest === undefined) return { requests: [], messages: [] }
    const requests: Array<RequestEntry> = []
    const messages: Array<MessageEntry> = []
    for (let seq = Math.max(after + 1, firstRequest.seq); seq <= this.requestCount; seq++) {
      const request = this.requestAt(seq)
      if (request === undefined) break
      requests.push(request)
      if (requests.length >= maxRequests) break
      if (limit <= 0) continue
      for (let m = request.first; m < request.first + request.count; m++) {
        const entry = this.entryAt(m)
        if (entry !== undefined) messages.push(entry)
      }
      if (messages.length >= limit) break
    }
    return { requests, messages }
  }

  /** The retained messages after `after` (a message `seq`), at most `limit`. */
  messagesAfter(after: number, limit: number): ReadonlyArray<MessageEntry> {
    const first = this.entries.get(0)
    if (first === undefined) return []
    const out: Array<MessageEntry> = []
    for (let seq = Math.max(after + 1, first.seq); seq <= this.received && out.length < limit; seq++) {
      const entry = this.entryAt(seq)
      if (entry !== undefined) out.push(entry)
    }
    return out
  }

  /** How many messages and requests the inspector holds now. */
  retained(): { readonly messages: number; readonly requests: number } {
    return { messages: this.entries.length, requests: this.requestEntries.length }
  }
}
