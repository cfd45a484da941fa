/**
 * The import of one file of calls (NDJSON) through the client's engine, at full speed and in constant memory, with a
 * checkpoint so that a killed import resumes where it stopped.
 *
 * - Reading waits for room in the engine (it never holds more than `maxQueueSize` messages), so memory does not
 *   depend on the file's size.
 * - A line that is not JSON, not a known call or not a valid call is reported with its number and reason, counted
 *   and skipped.
 * - A line without `messageId` gets one derived from its content and its line number, so a re-run sends the same
 *   ids and the API drops the copies.
 * - The checkpoint records the byte offset below which every line has a final outcome (delivered, rejected, or
 *   failed and written to the failed file). A line abandoned when the import stopped has none: the checkpoint stays
 *   before it, and the next run sends it.
 */
import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import * as crypto from "node:crypto"
import type { AnalyticsError } from "../../AnalyticsError.ts"
import * as Message from "../../Message.ts"
import type * as Engine from "../engine.ts"
import * as Checkpoint from "./checkpoint.ts"
import { isGzip, type Line, lines, sizeOf } from "./lines.ts"
import { Pacer } from "./pacer.ts"

/** Why the import cannot go on. `exitCode` 2: the command as given cannot run (a usage error); 1: anything else. */
export class ImportError extends Data.TaggedError("ImportError")<{
  readonly message: string
  readonly exitCode: 1 | 2
}> {}

export interface Options {
  /** Where the checkpoint is kept; none for standard input and dry runs. */
  readonly checkpoint: string | undefined
  /** Where the lines whose events finally failed are appended, with their `messageId`, to be imported again. */
  readonly failed: string | undefined
  /** Events per second at most. */
  readonly rate: number | undefined
  readonly allowMissingTimestamp: boolean
}

export interface Counts {
  /** Lines read, including blank ones and those the checkpoint said were done. */
  lines: number
  /** Lines the checkpoint said were done: not read again. */
  resumed: number
  blank: number
  /** Delivered; with `--dry-run`, valid. */
  delivered: number
  rejected: number
  failed: number
}

/** Lines read and without an outcome yet: in the engine, or abandoned when the import stopped. */
export const unsettled = (counts: Counts): number =>
  counts.lines - counts.resumed - counts.blank - counts.delivered - counts.rejected - counts.failed

/** Where the importer tells about single lines. */
export interface Report {
  readonly rejected: (file: string, line: number, reason: string) => void
  readonly failed: (file: string, line: number, error: AnalyticsError) => void
}

const hexDigits = "0123456789abcdef"

// One call and no `Hash` object where Node has it (21.7 and later): a hash per line, so it counts.
const sha256Of: (data: string) => Uint8Array = typeof crypto.hash === "function"
  ? (data) => crypto.hash("sha256", data, "buffer")
  : (data) => crypto.createHash("sha256").update(data).digest()

/**
 * A UUID-shaped id (version 8, RFC 9562: custom) from the SHA-256 of a line's number and content: the same line of
 * the same file always gets the same id.
 */
export const messageIdOf = (lineNumber: number, text: string): string => {
  const digest = sha256Of(`${lineNumber}\n${text}`)
  let id = ""
  for (let i = 0; i < 16; i++) {
    let byte = digest[i]!
    if (i === 6) byte = (byte & 0x0f) | 0x80 // version 8
    if (i === 8) byte = (byte & 0x3f) | 0x80 // variant 10xx
    id += hexDigits[byte >> 4]! + hexDigits[byte & 15]!
    if (i === 3 || i === 5 || i === 7 || i === 9) id += "-"
  }
  return id
}

const callTypes = new Set<string>(Message.callTypes)

/** A line read and without an outcome yet, in file order: the checkpoint advances over those that have one. */
interface Pending {
  readonly line: Line
  done: boolean
}

interface Call {
  readonly pending: Pending
  readonly type: Message.CallType
  readonly params: Record<string, unknown>
  readonly messageId: string
}

/** A final answer that no other batch would get otherwise: the import stops instead of failing every line. */
const stopsTheImport = (error: AnalyticsError): boolean =>
  error.reason._tag === "HttpError" && (error.reason.status === 401 || error.reason.status === 403)

export class FileImport {
  readonly counts: Counts = { lines: 0, resumed: 0, blank: 0, delivered: 0, rejected: 0, failed: 0 }
  /** Bytes read from the disk (compressed, for gzip), and the file's size (`undefined` for stdin): the progress. */
  bytesRead = 0
  readonly size: number | undefined
  readonly file: string
  /** Where its checkpoint is kept, and its failed lines written (`undefined`: nowhere). */
  readonly checkpoint: string | undefined
  readonly failed: string | undefined
  readonly #options: Options
  readonly #engine: Engine.Engine | undefined
  readonly #report: Report
  readonly #stop: (error: AnalyticsError) => void
  #hash: Checkpoint.Hash = Checkpoint.sha256()
  readonly #ring: Array<Pending> = []
  #head = 0
  #checkpointed = 0
  #checkpointedLines = 0
  #written = 0
  #failedLines: Array<string> = []
  readonly #saving = Semaphore.makeUnsafe(1)

  /**
   * `engine` is `undefined` for a dry run. `stop` is told when the engine refuses for a reason of its own (closed,
   * the write key refused): the import cannot go on.
   */
  constructor(
    file: string,
    options: Options,
    engine: Engine.Engine | undefined,
    report: Report,
    stop: (error: AnalyticsError) => void
  ) {
    this.file = file
    this.checkpoint = options.checkpoint
    this.failed = options.failed
    this.#options = options
    this.#engine = engine
    this.#report = report
    this.#stop = stop
    try {
      this.size = sizeOf(file)
    } catch (error) {
      throw new ImportError({ message: `cannot read ${file}: ${messageOf(error)}`, exitCode: 2 })
    }
  }

  /** Checks the checkpoint an earlier run left against the file, and goes on from it. Tells what it resumed. */
  readonly resume: Effect.Effect<Checkpoint.Checkpoint | undefined, ImportError> = Effect.suspend(() => {
    const path = this.#options.checkpoint
    if (path === undefined) return Effect.undefined
    return Effect.tryPromise({
      try: async () => {
        const previous = Checkpoint.read(path)
        if (previous === undefined) return undefined
        this.#hash = await Checkpoint.verify(this.file, previous)
        this.#checkpointed = this.#written = previous.offset
        this.#checkpointedLines = this.counts.lines = this.counts.resumed = previous.lines
        // A plain file is read from the offset, so the progress starts there; a .gz file is read from its start.
        if (!isGzip(this.file)) this.bytesRead = previous.offset
        return previous
      },
      catch: (error) => new ImportError({ message: messageOf(error), exitCode: 2 })
    })
  })

  /** Reads and sends every line. Interrupted, it stops reading; what it sent goes on. */
  readonly read: Effect.Effect<void, ImportError> = Effect.suspend(() => {
    const iterator = lines(this.file, this.#checkpointed, this.#checkpointedLines + 1, (bytes) => {
      this.bytesRead += bytes
    })[Symbol.asyncIterator]()
    const nextBatch = Effect.tryPromise({
      try: () => iterator.next(),
      catch: (error) => new ImportError({ message: `cannot read ${this.file}: ${messageOf(error)}`, exitCode: 1 })
    })
    const engine = this.#engine
    const pacer = this.#options.rate === undefined || engine === undefined ? undefined : new Pacer(this.#options.rate)
    return Effect.gen({ self: this }, function*() {
      const clock = yield* Clock.Clock
      const dryRun = engine === undefined ? dryRunner(() => clock.currentTimeMillisUnsafe()) : undefined
      while (true) {
        const next = yield* nextBatch
        if (next.done === true) return
        for (const line of next.value) {
          const call = this.#take(line)
          if (call === undefined) continue
          if (dryRun !== undefined) {
            this.#check(call, dryRun)
            continue
          }
          if (pacer !== undefined) {
            const wait = pacer.take(clock.currentTimeMillisUnsafe())
            if (wait > 0) yield* Effect.sleep(wait)
          }
          // Reading waits for room: memory stays bounded whatever the file's size.
          if (!engine!.hasRoom()) yield* engine!.untilRoom
          if (!this.#send(call, engine!)) return
        }
        this.#advance()
      }
    }).pipe(
      // The file is closed however reading ends; for stdin, closing must not wait for input that may never come.
      Effect.ensuring(Effect.sync(() => void iterator.return(undefined).catch(() => undefined)))
    )
  })

  /**
   * Writes the checkpoint as far as every line has its outcome, after appending the failed lines to the failed
   * file (so a checkpoint never passes a failed line that is not written down).
   */
  readonly save: Effect.Effect<void, ImportError> = Effect.clockWith((clock) =>
    Effect.tryPromise({
      try: async () => {
        // What this save writes is taken at once; the disk is written without blocking the requests.
        this.#advance()
        const failedLines = this.#failedLines
        this.#failedLines = []
        const path = this.#options.checkpoint
        const checkpoint: Checkpoint.Checkpoint | undefined = path === undefined || this.#checkpointed === this.#written
          ? undefined
          : {
            version: 1,
            file: this.file,
            offset: this.#checkpointed,
            lines: this.#checkpointedLines,
            prefixSha256: this.#hash.copy().digest("hex"),
            delivered: this.counts.delivered,
            rejected: this.counts.rejected,
            failed: this.counts.failed,
            updatedAt: new Date(clock.currentTimeMillisUnsafe()).toISOString()
          }
        if (failedLines.length > 0 && this.failed !== undefined) {
          try {
            await Checkpoint.writeDurably(this.failed, failedLines.join(""), "a")
          } catch (error) {
            // Not written down: they stay to be written, and no checkpoint may pass them until they are.
            this.#failedLines = failedLines.concat(this.#failedLines)
            throw error
          }
        }
        if (path === undefined || checkpoint === undefined) return
        await Checkpoint.write(path, checkpoint)
        this.#written = checkpoint.offset
      },
      catch: (error) =>
        new ImportError({ message: `cannot save the import's progress: ${messageOf(error)}`, exitCode: 1 })
    })
  ).pipe(
    // One save at a time, and never cut short: a rename must not land after a later save's.
    Semaphore.withPermits(this.#saving, 1),
    Effect.uninterruptible
  )

  /** Counts a line and parses its call; `undefined` when it holds none (blank) or an invalid one (rejected). */
  #take(line: Line): Call | undefined {
    this.counts.lines++
    const pending: Pending = { line, done: false }
    this.#ring.push(pending)
    if (line.text.trim() === "") {
      this.counts.blank++
      pending.done = true
      return undefined
    }
    let call: unknown
    try {
      call = JSON.parse(line.text)
    } catch (error) {
      return this.#reject(pending, `not JSON: ${messageOf(error)}`)
    }
    if (typeof call !== "object" || call === null || Array.isArray(call)) {
      return this.#reject(pending, `a line must be a JSON object, a call such as {"type": "track", …}`)
    }
    const { type, ...params } = call as Record<string, unknown>
    if (typeof type !== "string" || !callTypes.has(type)) {
      return this.#reject(pending, `"type" must be one of ${Message.callTypes.map((t) => `"${t}"`).join(", ")}`)
    }
    if (params.timestamp === undefined && !this.#options.allowMissingTimestamp) {
      return this.#reject(
        pending,
        `"timestamp" is missing: a backfill needs the time of each call (or --allow-missing-timestamp)`
      )
    }
    if (params.messageId === undefined) params.messageId = messageIdOf(line.number, line.text)
    return { pending, type: type as Message.CallType, params, messageId: String(params.messageId) }
  }

  /** Hands a call to the engine; false when the engine refused it for a reason of its own (the import stops). */
  #send(call: Call, engine: Engine.Engine): boolean {
    const { pending, messageId } = call
    // The callback holds the line and the id, not the parsed call: what waits in the queue is kept small.
    const accepted = engine.accept(call.type, call.params, (error) => this.#settle(pending, messageId, error))
    if (accepted._tag === "Success") return true
    const { error } = accepted.failure
    const tag = error.reason._tag
    if (tag === "ValidationError" || tag === "MessageTooLarge") {
      this.#reject(pending, error.message)
      return true
    }
    this.#stop(error)
    return false
  }

  #check(call: Call, dryRun: (type: Message.CallType, params: unknown) => string | undefined): void {
    const invalid = dryRun(call.type, call.params)
    if (invalid !== undefined) this.#reject(call.pending, invalid)
    else {
      this.counts.delivered++
      call.pending.done = true
    }
  }

  #settle(pending: Pending, messageId: string, error: AnalyticsError | undefined): void {
    if (error === undefined) {
      this.counts.delivered++
      pending.done = true
    } else if (error.reason._tag === "FlushTimeout") {
      // Abandoned when the import stopped: no outcome, so the next run sends it.
    } else if (stopsTheImport(error)) {
      this.#stop(error)
    } else {
      this.counts.failed++
      this.#report.failed(this.file, pending.line.number, error)
      // The line as read, with the id it was sent with, so a new import of the failed file sends the same id. Without
      // a failed file (standard input) it is only reported: kept, it would pile up in memory.
      if (this.failed !== undefined) {
        this.#failedLines.push(`${JSON.stringify({ ...JSON.parse(pending.line.text), messageId })}\n`)
      }
      pending.done = true
    }
  }

  #reject(pending: Pending, reason: string): undefined {
    this.counts.rejected++
    this.#report.rejected(this.file, pending.line.number, reason)
    pending.done = true
    return undefined
  }

  /** Moves the checkpoint over the lines, in file order, that have their outcome. */
  #advance(): void {
    const ring = this.#ring
    let head = this.#head
    // Adjacent lines of one chunk are hashed in one piece: one native call per chunk, not per line.
    let buffer: ArrayBufferLike | undefined
    let start = 0
    let end = 0
    while (head < ring.length && ring[head]!.done) {
      const { line } = ring[head++]!
      const { bytes } = line
      if (bytes.buffer === buffer && bytes.byteOffset === end) end += bytes.length
      else {
        if (buffer !== undefined) this.#hash.update(new Uint8Array(buffer, start, end - start))
        buffer = bytes.buffer
        start = bytes.byteOffset
        end = start + bytes.length
      }
      this.#checkpointed = line.end
      this.#checkpointedLines = line.number
    }
    if (buffer !== undefined) this.#hash.update(new Uint8Array(buffer, start, end - start))
    // The settled front is dropped now and then, not at every line: splice moves what is left.
    if (head > 4096 && head * 2 > ring.length) {
      ring.splice(0, head)
      head = 0
    }
    this.#head = head
  }
}

const messageOf = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** `--dry-run`: a line is checked exactly as the client would (params, then the 32 KB limit), and not sent. */
const dryRunner = (now: () => number) => {
  const encode = Message.makeEncoder({ now, uuid: () => "00000000-0000-4000-8000-000000000000" })
  return (type: Message.CallType, params: unknown): string | undefined => {
    const encoded = encode(type, params)
    return encoded._tag === "Failure" ? encoded.failure.message : undefined
  }
}
