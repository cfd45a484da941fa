/**
 * The two CRC-32s the library computes, table-driven: IEEE for gzip members (RFC 1952), and Castagnoli (CRC-32C) for
 * every outbox record: it detects a torn write or disk garbage, so a damaged record is skipped and counted instead of
 * being sent or crashing the client (Vector's disk buffers and iSCSI use the same polynomial, chosen for storage).
 */

const make = (polynomial: number) => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? polynomial ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return (bytes: Uint8Array, start = 0, end = bytes.length): number => {
    let crc = 0xffffffff
    for (let i = start; i < end; i++) crc = table[(crc ^ bytes[i]!) & 0xff]! ^ (crc >>> 8)
    return (crc ^ 0xffffffff) >>> 0
  }
}

/** CRC-32 (IEEE), as gzip uses it. */
export const crc32 = make(0xedb88320)

/** CRC-32C (Castagnoli), of the outbox's records. */
export const crc32c = make(0x82f63b78)
