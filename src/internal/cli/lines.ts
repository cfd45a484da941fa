/**
 * Reads a file of lines (NDJSON) as a stream of batches of whole lines, each with the byte offset where it ends, so
 * an importer can record how far it got and start again from there. Plain files start at the offset directly; gzip
 * files (`.gz`) are decompressed while streaming and the bytes before the offset (counted decompressed) are skipped;
 * `-` is standard input, which cannot be resumed.
 */
import * as fs from "node:fs"
import { pipeline, type Readable } from "node:stream"
import * as zlib from "node:zlib"

export interface Line {
  /** 1-based. */
  readonly number: number
  readonly text: string
  /** The line's bytes as read, its `\n` included (a view of the chunk read, not a copy). */
  readonly bytes: Uint8Array
  /** Byte offset just after the line's end. */
  readonly end: number
}

export const isStdin = (path: string): boolean => path === "-"
export const isGzip = (path: string): boolean => path.endsWith(".gz")

const highWaterMark = 256 * 1024

/**
 * The bytes of `path` from `start` (for gzip and stdin: from 0, decompressed), as they come. `onRead` is told how
 * many bytes were read from the disk (compressed, for gzip): what progress is measured against.
 */
export const chunks = (path: string, start = 0, onRead?: (bytes: number) => void): AsyncIterable<Uint8Array> => {
  const counted = (stream: Readable): Readable =>
    onRead === undefined ? stream : stream.on("data", (chunk: Uint8Array) => onRead(chunk.length))
  if (isStdin(path)) return counted(process.stdin)
  if (!isGzip(path)) return counted(fs.createReadStream(path, { start, highWaterMark }))
  // Not `pipe`: `pipeline` passes the file's errors on, and closes the file when reading stops early (a resume's check,
  // a stopped import). Its callback is required; the errors reach the reader through the gunzip stream.
  return pipeline(counted(fs.createReadStream(path, { highWaterMark })), zlib.createGunzip(), () => {})
}

const decoder = new TextDecoder()

/**
 * The lines of `path` after byte `start` (which must be the end of a line), in batches: each batch is every whole
 * line of one chunk read. `firstNumber` numbers the first line read (the lines before `start` already counted).
 */
export async function* lines(
  path: string,
  start = 0,
  firstNumber = 1,
  onRead?: (bytes: number) => void
): AsyncGenerator<ReadonlyArray<Line>> {
  // A plain file is read from `start`; gzip and stdin are read from 0 and skip what comes before it.
  let position = isGzip(path) || isStdin(path) ? 0 : start
  let number = firstNumber
  // The start of a line the last chunk ended in, and where it began.
  let carry: Uint8Array | undefined
  let carryStart = start
  for await (const raw of chunks(path, position, onRead)) {
    let chunk = raw
    let chunkStart = position
    position += raw.length
    if (position <= start) continue
    if (chunkStart < start) {
      chunk = chunk.subarray(start - chunkStart)
      chunkStart = start
    }
    if (carry !== undefined) {
      const joined = new Uint8Array(carry.length + chunk.length)
      joined.set(carry)
      joined.set(chunk, carry.length)
      chunk = joined
      chunkStart = carryStart
      carry = undefined
    }
    const batch: Array<Line> = []
    let from = 0
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, from)) {
      batch.push({
        number: number++,
        text: decoder.decode(chunk.subarray(from, at)),
        bytes: chunk.subarray(from, at + 1),
        end: chunkStart + at + 1
      })
      from = at + 1
    }
    if (from < chunk.length) {
      carry = chunk.slice(from)
      carryStart = chunkStart + from
    }
    if (batch.length > 0) yield batch
  }
  // A last line without a newline.
  if (carry !== undefined) yield [{ number, text: decoder.decode(carry), bytes: carry, end: position }]
}

/** The size of a plain or gzip file on disk (what progress is measured against), `undefined` for stdin. */
export const sizeOf = (path: string): number | undefined => isStdin(path) ? undefined : fs.statSync(path).size
