/**
 * A gzip body whose start changes on every attempt while the rest is compressed once.
 *
 * A request body is `{"sentAt":"<now>","batch":[…]}`: `sentAt` must be the time of each attempt (the API corrects
 * clock skew with it), but the batch is the same on every retry. So the batch part is deflated once, with the
 * runtime's `CompressionStream` (no `node:zlib`, so this runs on every runtime), and each attempt puts its head in
 * front as an uncompressed (stored) deflate block. A deflate stream is a sequence of blocks, and the batch's blocks
 * only refer back within themselves, so the joined stream inflates to head + batch. The gzip trailer's CRC-32 of
 * the whole is combined from the two parts' CRCs without reading the batch again.
 *
 * RFC 1951 §3.2.4 (stored blocks), RFC 1952 (gzip members).
 */
import * as Effect from "effect/Effect"
import { crc32 } from "./crc32.ts"

const encoder = new TextEncoder()

// CRC-32 is linear over GF(2): appending `length` zero bytes to a message is a 32×32 bit matrix applied to its CRC,
// and repeated squaring of the one-zero-bit matrix reaches any length in log2(length) steps.
const times = (matrix: Uint32Array, vector: number): number => {
  let sum = 0
  for (let i = 0; vector !== 0; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i]!
  return sum >>> 0
}

const square = (matrix: Uint32Array): Uint32Array => {
  const out = new Uint32Array(32)
  for (let n = 0; n < 32; n++) out[n] = times(matrix, matrix[n]!)
  return out
}

/**
 * Appending `length` zero bytes to a message, as an operator on its CRC-32 (a 32×32 bit matrix), built by repeated
 * squaring of the one-zero-bit operator.
 */
const zeroBytes = (length: number): Uint32Array => {
  let operator: Uint32Array = new Uint32Array(32)
  operator[0] = 0xedb88320
  for (let n = 1; n < 32; n++) operator[n] = (1 << (n - 1)) >>> 0
  operator = square(square(operator)) // four zero bits
  let result: Uint32Array | undefined
  for (let remaining = length; remaining > 0; remaining = Math.floor(remaining / 2)) {
    operator = square(operator) // one zero byte, then two, four, …
    if (remaining % 2 === 1) result = result === undefined ? operator : compose(operator, result)
  }
  return result ?? identity
}

const identity: Uint32Array = Uint32Array.from({ length: 32 }, (_, n) => (1 << n) >>> 0)

// (a ∘ b)(v) = a(b(v)): column n of the product is a applied to column n of b.
const compose = (a: Uint32Array, b: Uint32Array): Uint32Array => {
  const out = new Uint32Array(32)
  for (let n = 0; n < 32; n++) out[n] = times(a, b[n]!)
  return out
}

/** The CRC-32 of `a` followed by `b`, from the CRC-32s of both and the length of `b`. */
export const crc32Combine = (crcA: number, crcB: number, lengthB: number): number =>
  (times(zeroBytes(lengthB), crcA) ^ crcB) >>> 0

const deflateRaw = (bytes: Uint8Array): Promise<Uint8Array> =>
  new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream("deflate-raw"))).arrayBuffer().then(
    (buffer) => new Uint8Array(buffer)
  )

// ID1 ID2, CM = deflate, no flags, no mtime, XFL 0, OS unknown.
const header = Uint8Array.of(0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff)

/**
 * Deflates `tail` once; the returned function makes the gzip body of `head` + `tail` for any (short) `head`.
 */
export const withFixedTail = (tail: string): Effect.Effect<(head: string) => Uint8Array> =>
  Effect.suspend(() => {
    const tailBytes = encoder.encode(tail)
    const tailCrc = crc32(tailBytes)
    // Shifting the head's CRC past the tail is the same for every attempt: built once.
    const pastTail = zeroBytes(tailBytes.length)
    return Effect.map(Effect.promise(() => deflateRaw(tailBytes)), (deflated) => (head: string) => {
      const headBytes = encoder.encode(head)
      const length = headBytes.length // well under the 65 535 bytes of one stored block
      const size = header.length + 5 + length + deflated.length + 8
      const out = new Uint8Array(size)
      out.set(header, 0)
      let at = header.length
      // A stored block that is not the last one: BFINAL 0, BTYPE 00, padded to the byte; LEN and its complement.
      out[at++] = 0
      out[at++] = length & 0xff
      out[at++] = length >>> 8
      out[at++] = ~length & 0xff
      out[at++] = (~length >>> 8) & 0xff
      out.set(headBytes, at)
      at += length
      out.set(deflated, at)
      at += deflated.length
      const view = new DataView(out.buffer)
      view.setUint32(at, (times(pastTail, crc32(headBytes)) ^ tailCrc) >>> 0, true)
      view.setUint32(at + 4, (length + tailBytes.length) >>> 0, true)
      return out
    })
  })
