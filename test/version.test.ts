import { assert, describe, it } from "@effect/vitest"
import { readFileSync } from "node:fs"
import { libraryName, libraryVersion } from "../src/internal/version.ts"

describe("version", () => {
  it("matches package.json, so User-Agent and context.library tell the truth", () => {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
    assert.strictEqual(libraryName, pkg.name)
    assert.strictEqual(libraryVersion, pkg.version)
  })
})
