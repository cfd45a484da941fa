/**
 * What `effect/cli` asks of its platform, made from the program's own outputs: the import reads its files itself,
 * prompts nothing and starts no process, so the file system and the process spawner are never used. This keeps the
 * command line free of `@effect/platform-node`, which the package does not require.
 *
 * Of the built-in flags, `--wizard` (which prompts) and `--log-level` (the program prints no log of its own) are left
 * out.
 */
import * as CliConfig from "effect/cli/CliConfig"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Effect from "effect/Effect"
import * as FileSystem from "effect/FileSystem"
import * as Layer from "effect/Layer"
import * as Path from "effect/Path"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as Stdio from "effect/Stdio"
import * as Terminal from "effect/Terminal"
import type { Output, Terminal as Screen } from "./progress.ts"

const unused = (what: string) => Effect.die(`the cdp-analytics command line does not use ${what}`)

export const environment = (io: { readonly stdout: Output; readonly stderr: Screen }) =>
  Layer.mergeAll(
    CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version, GlobalFlag.Completions] }),
    FileSystem.layerNoop({}),
    Path.layer,
    Stdio.layerTest({}),
    Layer.succeed(
      Terminal.Terminal,
      Terminal.make({
        columns: Effect.sync(() => io.stderr.columns ?? 80),
        rows: Effect.succeed(24),
        size: unused("the terminal's size"),
        readInput: unused("the terminal's input"),
        readLine: unused("the terminal's input"),
        display: (text) => Effect.sync(() => io.stdout.write(text))
      })
    ),
    Layer.succeed(ChildProcessSpawner.ChildProcessSpawner, ChildProcessSpawner.make(() => unused("child processes")))
  )
