import { configDefaults, defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Other runtimes, run by `npm run test:runtimes` with their own config.
    exclude: [...configDefaults.exclude, "test/runtimes/**"],
    setupFiles: ["./test/utils/setup.ts"],
    testTimeout: 30_000,
    // Failing loudly on a stray rejection is part of the contract: nothing may end as an unhandled rejection.
    dangerouslyIgnoreUnhandledErrors: false
  }
})
