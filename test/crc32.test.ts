/**
 * The two CRC-32s against their standard check values (the CRC of the ASCII bytes "123456789").
 */
import { assert, describe, it } from "@effect/vitest"
import { crc32, crc32c } from "../src/internal/crc32.ts"

const check = new TextEncoder().encode("123456789")

describe("crc32", () => {
  it("IEEE (gzip): 0xCBF43926", () => assert.strictEqual(crc32(check), 0xcbf43926))
  it("Castagnoli (the outbox's records): 0xE3069283", () => assert.strictEqual(crc32c(check), 0xe3069283))
  it("over a part of the bytes, as the outbox reads records in place", () => {
    const framed = new Uint8Array([0xff, ...check, 0xff])
    assert.strictEqual(crc32c(framed, 1, 10), 0xe3069283)
  })
})
