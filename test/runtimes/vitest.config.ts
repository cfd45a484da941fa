import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

/**
 * `npm run test:runtimes`: the library on Node 22 and 24, Bun, Deno and workerd. Kept apart from `npm test` (whose
 * config excludes this folder): each case starts a runtime (a run takes 10 to 20 seconds).
 */
export default defineConfig({
  test: {
    root: fileURLToPath(new URL("../..", import.meta.url)),
    include: ["test/runtimes/*.test.ts"],
    setupFiles: ["./test/utils/setup.ts"],
    testTimeout: 120_000,
    dangerouslyIgnoreUnhandledErrors: false
  }
})
