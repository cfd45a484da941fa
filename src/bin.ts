#!/usr/bin/env node
/**
 * The `cdp-analytics` executable: the program of `internal/cli/command.ts` on Node's terminal and signals. It exits
 * with the program's code once what it printed is written out (a pipe is written asynchronously).
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as v8 from "node:v8"
import { Io, run } from "./internal/cli/command.ts"

// An import keeps little alive (a bounded queue) but makes much short-lived garbage; V8 would let the heap grow to
// four times what is alive before collecting. Growing it by half keeps a long import's memory under 200 MB instead of
// 250 MB, for a few percent of speed (docs/import.md).
v8.setFlagsFromString("--heap-growing-percent=50")

type StopSignal = "SIGINT" | "SIGTERM"

/** The next SIGINT or SIGTERM; while one is awaited, it does not end the process. */
const signal = Effect.callback<StopSignal>((resume) => {
  const listeners = new Map<StopSignal, () => void>()
  const off = () => listeners.forEach((listener, name) => process.off(name, listener))
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    const listener = () => {
      off()
      resume(Effect.succeed(name))
    }
    listeners.set(name, listener)
    process.on(name, listener)
  }
  return Effect.sync(off)
})

const exitCode = await Effect.runPromise(
  run(process.argv.slice(2)).pipe(Effect.provideService(Io, {
    stdout: { write: (text) => void process.stdout.write(text) },
    stderr: {
      write: (text) => void process.stderr.write(text),
      isTTY: process.stderr.isTTY === true,
      get columns() {
        return process.stderr.columns
      }
    },
    signal
  }))
)
process.stdout.write("", () => process.stderr.write("", () => process.exit(exitCode)))
