import { afterAll } from "vitest"

// Any unhandled rejection is a bug in this library (CONTRACT §8): collect them and fail the file.
const unhandled: Array<unknown> = []
const onUnhandled = (reason: unknown) => {
  unhandled.push(reason)
}
process.on("unhandledRejection", onUnhandled)

afterAll(() => {
  process.off("unhandledRejection", onUnhandled)
  if (unhandled.length > 0) {
    throw new Error(`unhandled rejections during this file: ${unhandled.map(String).join("; ")}`)
  }
})
