/**
 * The file outbox: an append-only log of accepted messages in a directory, so that a crash loses nothing accepted.
 *
 * - `segment-<n>.log`: records, each `0xA7`, the payload's length (u32 LE), its CRC-32C (u32 LE), then the payload
 *   (the message's JSON, as sent). A new segment starts when the active one passes `segmentBytes`, and at every
 *   open: old segments are only read.
 * - `acks.log`: the same framing, each payload a segment number and a record offset (u32 LE each): the records that
 *   have a final outcome. It is rewritten without the acks of deleted segments at every open.
 * - A segment is deleted once every record in it is settled and the reader has passed it.
 * - `LOCK`: the process that owns the directory (see `lock.ts`): a live one refuses a second client, a stale one is
 *   taken over.
 * - `dead-letter.ndjson` (with `deadLetter`): messages that finally failed, one JSON per line, for a re-send.
 *
 * The reader follows the writer. Records the engine had no room for stay on disk (the backlog) and are handed out
 * in order as room frees; when the reader has caught up, a new record is handed out as it is written and never read
 * back. On open, the records without an ack are the backlog: they are sent before any new one. A record that is
 * torn (a crash mid-write) or damaged fails its checksum and is skipped and counted, never sent.
 *
 * Everything here is synchronous (see `disk.ts`).
 */
import { crc32c } from "../crc32.ts"
import type { Disk } from "./disk.ts"
import * as Lock from "./lock.ts"

export { OutboxInUse } from "./lock.ts"

export interface Options {
  readonly path: string
  /** Past this size, the active segment is closed and a new one started. */
  readonly segmentBytes: number
  /** The most the segments may hold in all; past it `hasRoom` says no. */
  readonly maxBytes: number
  /** fsync after every write, rather than when the engine calls `sync`. */
  readonly syncAlways: boolean
  readonly deadLetter: boolean
  /** Epoch milliseconds, for the lock's `since`. */
  readonly now: () => number
  /** Told when something is written while everything before was synced: time to schedule a `sync`. */
  readonly onDirty?: (() => void) | undefined
}

/** Where a record is: its segment and its offset in it. */
export interface Position {
  readonly segment: number
  readonly offset: number
}

export interface StoredRecord {
  readonly position: Position
  readonly json: string
  /** UTF-8 bytes of `json`. */
  readonly bytes: number
}

const MAGIC = 0xa7
const HEADER = 9
const ACK_RECORD = HEADER + 8
/** `acks.log` is rewritten once it is this large and mostly about deleted segments. */
const ACKS_COMPACT_BYTES = 1024 * 1024
const ACKS = "acks.log"
const DEAD_LETTER = "dead-letter.ndjson"
const segmentName = (id: number) => `segment-${String(id).padStart(10, "0")}.log`
const segmentPattern = /^segment-(\d{10})\.log$/

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Writes the header of the record at `at`, whose payload of `length` bytes is already in place after it. */
const seal = (out: Uint8Array, at: number, length: number): void => {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  out[at] = MAGIC
  view.setUint32(at + 1, length, true)
  view.setUint32(at + 5, crc32c(out, at + HEADER, at + HEADER + length), true)
}

/** The records of a whole file: valid ones by offset, and how many damaged or torn ones were skipped. */
const parse = (
  bytes: Uint8Array
): { readonly records: Array<readonly [offset: number, payload: Uint8Array]>; readonly corrupt: number } => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Array<readonly [number, Uint8Array]> = []
  let corrupt = 0
  let at = 0
  let resyncing = false
  while (at + HEADER <= bytes.length) {
    const length = view.getUint32(at + 1, true)
    const end = at + HEADER + length
    // An empty payload is never written: nine zero-like bytes of garbage must not pass as a record.
    const valid = bytes[at] === MAGIC && length > 0 && end <= bytes.length &&
      view.getUint32(at + 5, true) === crc32c(bytes, at + HEADER, end)
    if (valid) {
      records.push([at, bytes.subarray(at + HEADER, end)])
      at = end
      resyncing = false
      continue
    }
    // Damaged: count it once, then look for the next record that checks out.
    if (!resyncing) corrupt++
    resyncing = true
    at++
  }
  if (at < bytes.length && !resyncing) corrupt++ // a torn header at the end
  return { records, corrupt }
}

/** Acks, framed as records: each payload a segment number and an offset (u32 LE each). */
const ackRecords = (positions: ReadonlyArray<Position>): Uint8Array => {
  const out = new Uint8Array(positions.length * ACK_RECORD)
  const view = new DataView(out.buffer)
  for (let i = 0; i < positions.length; i++) {
    const at = i * ACK_RECORD
    view.setUint32(at + HEADER, positions[i]!.segment, true)
    view.setUint32(at + HEADER + 4, positions[i]!.offset, true)
    seal(out, at, 8)
  }
  return out
}

interface Segment {
  readonly id: number
  readonly file: string
  size: number
  /** Records not yet settled. */
  unsettled: number
  /** Offsets of records still to hand out, in order (the backlog), from `next` on. */
  readonly pending: Array<number>
  next: number
  /** Offsets already acknowledged, kept so `acks.log` can be rewritten. */
  readonly acked: Array<number>
}

export class FileLog {
  readonly #disk: Disk
  readonly #options: Options
  readonly #dir: string
  readonly #segments: Array<Segment> = []
  readonly #byId = new Map<number, Segment>()
  #active!: Segment
  #activeFd = -1
  #acksFd = -1
  #deadLetterFd = -1
  #readSegment: Segment | undefined
  #readFd = -1
  #readBuffer = new Uint8Array(256 * 1024)
  #readStart = 0
  #readEnd = 0
  #bytes = 0
  /** Records written and not yet handed out. */
  #backlog = 0
  /** Acks in `acks.log`, and those of them about segments still there. */
  #acks = 0
  #liveAcks = 0
  readonly #segmentBytes: number
  readonly #lock: Lock.Lock
  #dirty = false
  /** Files were created, renamed or deleted since the directory was last synced. */
  #entriesChanged = false
  #closed = false
  /** Records skipped at open because their checksum failed (torn or damaged). */
  readonly corrupt: number
  /** Records found at open without an ack: the backlog sent before anything new. */
  readonly replayed: number

  private constructor(disk: Disk, options: Options) {
    this.#disk = disk
    this.#options = options
    // At least four segments fit in maxBytes: a settled segment is deleted only once the next one has begun.
    this.#segmentBytes = Math.min(options.segmentBytes, Math.floor(options.maxBytes / 4))
    this.#dir = disk.resolve(options.path)
    disk.mkdir(this.#dir)
    this.#lock = Lock.acquire(disk, this.#dir, options.now)
    try {
      const { corrupt, replayed } = this.#recover()
      this.corrupt = corrupt
      this.replayed = replayed
    } catch (error) {
      this.#release()
      throw error
    }
  }

  /** Reads what is on disk: the acks, then every segment; what has no ack is the backlog. */
  #recover(): { readonly corrupt: number; readonly replayed: number } {
    const disk = this.#disk
    const acks = new Map<number, Set<number>>()
    let corrupt = 0
    const ackBytes = this.#readWhole(ACKS)
    if (ackBytes !== undefined) {
      const parsed = parse(ackBytes)
      corrupt += parsed.corrupt
      for (const [, payload] of parsed.records) {
        if (payload.length !== 8) continue
        const view = new DataView(payload.buffer, payload.byteOffset, 8)
        const segment = view.getUint32(0, true)
        const set = acks.get(segment) ?? new Set<number>()
        set.add(view.getUint32(4, true))
        acks.set(segment, set)
      }
    }
    let replayed = 0
    let lastId = 0
    const ids = disk.list(this.#dir).flatMap((name) => {
      const match = segmentPattern.exec(name)
      return match === null ? [] : [Number(match[1])]
    }).toSorted((a, b) => a - b)
    for (const id of ids) {
      lastId = id
      const file = disk.join(this.#dir, segmentName(id))
      const parsed = parse(this.#readWhole(segmentName(id))!)
      corrupt += parsed.corrupt
      const acked = acks.get(id) ?? new Set<number>()
      const pending = parsed.records.map(([offset]) => offset).filter((offset) => !acked.has(offset))
      if (pending.length === 0) {
        disk.unlink(file)
        continue
      }
      const size = disk.size(file)
      const segment: Segment = {
        id,
        file,
        size,
        unsettled: pending.length,
        pending,
        next: 0,
        acked: parsed.records.map(([offset]) => offset).filter((offset) => acked.has(offset))
      }
      this.#add(segment)
      replayed += pending.length
      this.#backlog += pending.length
    }
    this.#rewriteAcks()
    this.#startSegment(lastId + 1)
    return { corrupt, replayed }
  }

  /** Opens the directory, taking its lock; throws `OutboxInUse` if a live process holds it. */
  static open(disk: Disk, options: Options): FileLog {
    return new FileLog(disk, options)
  }

  get directory(): string {
    return this.#dir
  }

  /** Bytes the segments hold. */
  get bytes(): number {
    return this.#bytes
  }

  /** Whether a record fits in `maxBytes`; when full, a settled active segment is begun anew (freeing it) first. */
  hasRoom(payloadBytes: number): boolean {
    if (this.#bytes + HEADER + payloadBytes <= this.#options.maxBytes) return true
    // The segment being written may be all settled: begun anew, it is deleted and its bytes are free.
    if (this.#active.size > 0 && this.#isDone(this.#active, true)) this.#startSegment(this.#active.id + 1)
    return this.#bytes + HEADER + payloadBytes <= this.#options.maxBytes
  }

  /** Records written and not yet handed out: they are read from disk as room frees. */
  get backlog(): number {
    return this.#backlog
  }

  /**
   * Writes a record (and, with `syncAlways`, fsyncs it). With `handOut` and no backlog, it is handed out at once:
   * the caller keeps it in memory and it is never read back; otherwise it joins the backlog.
   */
  append(json: string, bytes: number, handOut: boolean): { readonly position: Position; readonly handedOut: boolean } {
    if (this.#active.size >= this.#segmentBytes) this.#startSegment(this.#active.id + 1)
    // Encoded straight into its frame: `bytes` (the JSON's UTF-8 length) is known from the message's encoding.
    const framed = new Uint8Array(HEADER + bytes)
    encoder.encodeInto(json, framed.subarray(HEADER))
    seal(framed, 0, bytes)
    const offset = this.#active.size
    let written = false
    try {
      this.#disk.write(this.#activeFd, framed)
      written = true
      if (this.#options.syncAlways) this.#disk.fsync(this.#activeFd)
    } catch (error) {
      this.#failedAppend(offset, framed.length, written)
      throw error
    }
    if (!this.#options.syncAlways) this.#markDirty()
    this.#active.size += framed.length
    this.#active.unsettled++
    this.#bytes += framed.length
    const handedOut = handOut && this.#backlog === 0
    if (!handedOut) {
      this.#active.pending.push(offset)
      this.#backlog++
    }
    return { position: { segment: this.#active.id, offset }, handedOut }
  }

  /** Hands out up to `max` records of the backlog, oldest first. */
  take(max: number): Array<StoredRecord> {
    const out: Array<StoredRecord> = []
    for (const segment of this.#segments) {
      while (out.length < max && segment.next < segment.pending.length) {
        const offset = segment.pending[segment.next]!
        const payload = this.#readRecord(segment, offset)
        // Handed out only once read: a read that fails leaves the record in the backlog.
        segment.next++
        this.#backlog--
        out.push({ position: { segment: segment.id, offset }, json: decoder.decode(payload), bytes: payload.length })
      }
      if (out.length >= max) break
    }
    this.#collect()
    return out
  }

  /**
   * Marks records settled; a segment whose records are all settled is deleted. The records are settled in memory
   * even if writing the acks fails (then thrown): their segments are still freed, and at worst a record whose
   * segment outlives the process is sent again, with its messageId.
   */
  ack(positions: ReadonlyArray<Position>): void {
    if (positions.length === 0) return
    for (const position of positions) {
      const segment = this.#byId.get(position.segment)
      if (segment === undefined) continue
      segment.unsettled--
      segment.acked.push(position.offset)
    }
    this.#acks += positions.length
    this.#liveAcks += positions.length
    try {
      this.#disk.write(this.#acksFd, ackRecords(positions))
      if (this.#options.syncAlways) this.#disk.fsync(this.#acksFd)
      else this.#markDirty()
    } finally {
      this.#collect()
    }
    if (this.#acks * ACK_RECORD > ACKS_COMPACT_BYTES && this.#liveAcks * 2 < this.#acks) this.#rewriteAcks()
  }

  /**
   * Keeps messages that finally failed in `dead-letter.ndjson`, for a re-send. Forced to disk before it returns:
   * their acks follow, and must never be on disk without them.
   */
  deadLetter(jsons: ReadonlyArray<string>): void {
    if (this.#deadLetterFd === -1) {
      this.#deadLetterFd = this.#disk.openAppend(this.#disk.join(this.#dir, DEAD_LETTER))
      this.#entriesChanged = true
    }
    this.#disk.write(this.#deadLetterFd, encoder.encode(jsons.map((json) => `${json}\n`).join("")))
    this.#disk.fsync(this.#deadLetterFd)
    this.#syncEntries()
  }

  get deadLetters(): boolean {
    return this.#options.deadLetter
  }

  /** fsyncs what was written since the last sync, and the directory if files came or went. */
  sync(): void {
    if (this.#closed) return
    if (this.#dirty) {
      this.#dirty = false
      this.#disk.fsync(this.#activeFd)
      this.#disk.fsync(this.#acksFd)
    }
    if (this.#entriesChanged) {
      this.#entriesChanged = false
      this.#disk.fsyncDirectory(this.#dir)
    }
  }

  /** Tells other machines this process still holds the directory (see `lock.ts`). */
  heartbeat(): void {
    if (!this.#closed) this.#lock.heartbeat()
  }

  /** Syncs, closes every file and releases the lock, even if syncing fails. What is unsettled stays for the next open. */
  close(): void {
    if (this.#closed) return
    try {
      this.sync()
    } finally {
      this.#closed = true
      if (this.#active.unsettled === 0 && this.#active.size === 0) this.#disk.unlink(this.#active.file)
      this.#release()
    }
  }

  /** Closes every file and gives up the lock. */
  #release(): void {
    for (const fd of [this.#activeFd, this.#acksFd, this.#deadLetterFd, this.#readFd]) {
      if (fd !== -1) this.#disk.close(fd)
    }
    this.#lock.release()
  }

  /**
   * A write that failed may have left part of the record (or, if only its fsync failed, all of it) on disk. Later
   * records go to a new segment, so every offset stays true; a whole record is acked, so it is never sent; a torn
   * one is skipped by its checksum at the next open.
   */
  #failedAppend(offset: number, length: number, written: boolean): void {
    this.#active.size += length
    this.#bytes += length
    try {
      if (written) {
        this.#active.unsettled++
        this.ack([{ segment: this.#active.id, offset }])
      }
      this.#startSegment(this.#active.id + 1)
    } catch {
      // The disk refuses: the caller is told of the first failure; the next call tries again.
    }
  }

  /** With `syncAlways`, file creations and renames are made durable at once; otherwise at the next sync. */
  #syncEntries(): void {
    if (!this.#options.syncAlways || !this.#entriesChanged) return
    this.#entriesChanged = false
    this.#disk.fsyncDirectory(this.#dir)
  }

  #markDirty(): void {
    if (this.#dirty) return
    this.#dirty = true
    this.#options.onDirty?.()
  }

  /** All settled and all handed out, so nothing in it is needed any more. */
  #isDone(segment: Segment, evenIfActive = false): boolean {
    return (evenIfActive || segment !== this.#active) && segment.unsettled === 0 &&
      segment.next >= segment.pending.length
  }

  #add(segment: Segment): void {
    this.#segments.push(segment)
    this.#byId.set(segment.id, segment)
    this.#bytes += segment.size
  }

  #startSegment(id: number): void {
    if (this.#activeFd !== -1) {
      if (this.#dirty) this.#disk.fsync(this.#activeFd)
      this.#disk.close(this.#activeFd)
    }
    const file = this.#disk.join(this.#dir, segmentName(id))
    this.#active = { id, file, size: 0, unsettled: 0, pending: [], next: 0, acked: [] }
    this.#add(this.#active)
    this.#activeFd = this.#disk.openAppend(file)
    this.#entriesChanged = true
    this.#syncEntries()
    this.#collect()
  }

  /** Deletes the segments that are done: all settled, all handed out, and not the one being written. */
  #collect(): void {
    for (let i = 0; i < this.#segments.length; i++) {
      const segment = this.#segments[i]!
      if (!this.#isDone(segment)) continue
      if (segment === this.#readSegment) this.#closeReader()
      this.#disk.unlink(segment.file)
      this.#entriesChanged = true
      this.#segments.splice(i--, 1)
      this.#byId.delete(segment.id)
      this.#bytes -= segment.size
      this.#liveAcks -= segment.acked.length
    }
  }

  #readWhole(name: string): Uint8Array | undefined {
    const file = this.#disk.join(this.#dir, name)
    let size: number
    try {
      size = this.#disk.size(file)
    } catch {
      return undefined
    }
    const bytes = new Uint8Array(size)
    const fd = this.#disk.openRead(file)
    try {
      let at = 0
      while (at < size) {
        const chunk = bytes.subarray(at)
        const read = this.#disk.read(fd, chunk, at)
        if (read === 0) break
        at += read
      }
      return bytes.subarray(0, at)
    } finally {
      this.#disk.close(fd)
    }
  }

  #closeReader(): void {
    if (this.#readFd !== -1) this.#disk.close(this.#readFd)
    this.#readFd = -1
    this.#readSegment = undefined
    this.#readStart = 0
    this.#readEnd = 0
  }

  // Reads ahead in chunks: the backlog is read in order, so most records are already in the buffer.
  #readRecord(segment: Segment, offset: number): Uint8Array {
    if (this.#readSegment !== segment) {
      this.#closeReader()
      this.#readFd = this.#disk.openRead(segment.file)
      this.#readSegment = segment
    }
    const header = this.#bytesAt(offset, HEADER)
    const length = new DataView(header.buffer, header.byteOffset, HEADER).getUint32(1, true)
    return this.#bytesAt(offset + HEADER, length).slice()
  }

  #bytesAt(offset: number, length: number): Uint8Array {
    if (offset < this.#readStart || offset + length > this.#readEnd) {
      if (length > this.#readBuffer.length) this.#readBuffer = new Uint8Array(length)
      this.#readStart = offset
      this.#readEnd = offset + this.#disk.read(this.#readFd, this.#readBuffer, offset)
    }
    return this.#readBuffer.subarray(offset - this.#readStart, offset - this.#readStart + length)
  }

  /** Writes `acks.log` anew with the acks of the segments still there, atomically (a new file, then a rename). */
  #rewriteAcks(): void {
    const file = this.#disk.join(this.#dir, ACKS)
    const temporary = `${file}.tmp`
    const acked = this.#segments.flatMap((segment) => segment.acked.map((offset) => ({ segment: segment.id, offset })))
    this.#disk.unlink(temporary)
    const fd = this.#disk.openAppend(temporary)
    this.#disk.write(fd, ackRecords(acked))
    this.#disk.fsync(fd)
    this.#disk.close(fd)
    this.#disk.rename(temporary, file)
    this.#entriesChanged = true
    this.#syncEntries()
    if (this.#acksFd !== -1) this.#disk.close(this.#acksFd)
    this.#acksFd = this.#disk.openAppend(file)
    this.#acks = acked.length
    this.#liveAcks = acked.length
  }
}
