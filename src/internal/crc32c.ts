/**
 * CRC-32C (Castagnoli), the checksum of every outbox record: it detects a torn write or disk garbage, so a damaged
 * record is skipped and counted instead of being sent or crashing the client. (Vector's disk buffers and iSCSI use
 * the same polynomial, chosen for its error detection on storage.)
 */

const table: Uint32Array = (() => {
  const out = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    out[n] = c >>> 0
  }
  return out
})()

export const crc32c = (bytes: Uint8Array, start = 0, end = bytes.length): number => {
  let crc = 0xffffffff
  for (let i = start; i < end; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}
