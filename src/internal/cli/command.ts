/**
 * The `cdp-analytics` program, built with Effect's own CLI module (`effect/cli`): typed flags, help text, and errors
 * that name the bad flag. Its commands are `import` and `collector` (`collectorCommand.ts`).
 *
 * `run` is the whole program as an Effect: it reads its terminal, its signals and its HttpClient from the context,
 * so the tests run it in-process with a scripted API and the `TestClock`, and `bin.ts` runs it on Node's.
 */
import * as Cause from "effect/Cause"
import * as Argument from "effect/cli/Argument"
import * as CliError from "effect/cli/CliError"
import * as CliCommand from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Console from "effect/Console"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import type * as Redacted from "effect/Redacted"
import type { AnalyticsError } from "../../AnalyticsError.ts"
import * as DefaultHttpClient from "../defaultHttpClient.ts"
import * as Engine from "../engine.ts"
import { libraryVersion } from "../version.ts"
import { collectorCommand } from "./collectorCommand.ts"
import { environment } from "./environment.ts"
import { FileImport, ImportError, unsettled } from "./importer.ts"
import { isStdin } from "./lines.ts"
import { type Output, Progress, summaryJson, summaryText, type Terminal } from "./progress.ts"

/** Where the program writes and what tells it to stop. */
export class Io extends Context.Service<Io, {
  readonly stdout: Output
  readonly stderr: Terminal
  /** Completes with the name of the next signal that asks the program to stop (`SIGINT`, `SIGTERM`). */
  readonly signal: Effect.Effect<"SIGINT" | "SIGTERM">
}>()("cdp-analytics-effect/cli/Io") {}

/** The exit codes: 0 every line delivered, 1 not every line, 2 a usage error; 128 + n after signal n. */
export const exitCodes = { ok: 0, incomplete: 1, usage: 2, SIGINT: 130, SIGTERM: 143 } as const

/** How long a stopped import waits for the requests in flight before it writes its checkpoint and exits. */
const stopTimeoutMillis = 10_000

const importParams = {
  files: Argument.String("file").pipe(
    Argument.variadic({ min: 1 }),
    Argument.withDescription(
      "Files of calls, one JSON object per line (NDJSON) such as {\"type\": \"track\", \"userId\": …, \"event\": …, \"timestamp\": …}. A .gz file is decompressed while read; - reads standard input."
    )
  ),
  writeKey: Flag.Redacted("write-key").pipe(
    Flag.withFallbackConfig(Config.Redacted("CUSTOMERIO_WRITE_KEY")),
    Flag.optional,
    Flag.withDescription(
      "The source's write key. Prefer the CUSTOMERIO_WRITE_KEY environment variable: a flag lands in your shell history."
    )
  ),
  host: Flag.String("host").pipe(
    Flag.optional,
    Flag.withDescription("Base URL of the API (overrides --region). Default: https://cdp.customer.io")
  ),
  region: Flag.Literals("region", ["us", "eu"]).pipe(
    Flag.withDefault("us"),
    Flag.withDescription("us (cdp.customer.io) or eu (cdp-eu.customer.io). Default: us")
  ),
  eventsPerRequest: Flag.Int("events-per-request").pipe(
    Flag.withDefault(100),
    Flag.withDescription("Events per request (each request is at most 500 KB whatever this says). Default: 100")
  ),
  concurrency: Flag.Int("concurrency").pipe(
    Flag.withDefault(4),
    Flag.withDescription("Requests in flight at once. Default: 4")
  ),
  rate: Flag.Int("rate").pipe(
    Flag.optional,
    Flag.withDescription("Sends at most this many events per second, steadily. Default: as fast as the API takes them.")
  ),
  dryRun: Flag.Boolean("dry-run").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Checks every line as the client would and sends nothing (no write key needed).")
  ),
  checkpoint: Flag.String("checkpoint").pipe(
    Flag.optional,
    Flag.withDescription(
      "Where the import records how far it got (one file only). Default: FILE.checkpoint beside the file. Run the same command again to resume from it."
    )
  ),
  allowMissingTimestamp: Flag.Boolean("allow-missing-timestamp").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Sends lines without a timestamp, stamped with the time they are sent (refused otherwise).")
  ),
  json: Flag.Boolean("json").pipe(
    Flag.withDefault(false),
    Flag.withDescription("Prints the summary as one JSON object on standard output.")
  )
}

type ImportInput = CliCommand.Command.Config.Infer<typeof importParams>

/** The program, its handlers telling `exit` the code to exit with. */
const makeProgram = (exit: (code: number) => void) =>
  CliCommand.make("cdp-analytics").pipe(
    CliCommand.withDescription("The command line of cdp-analytics-effect, Customer.io's Data Pipelines client."),
    CliCommand.withSubcommands([
      CliCommand.make("import", importParams, (input) => Effect.map(runImport(input), exit)).pipe(
        CliCommand.withDescription(
          "Imports historical calls (a backfill) from NDJSON files at full speed, with a checkpoint: stopped or killed, the same command resumes where it stopped, and re-sent events keep their messageId so the API drops the copies."
        ),
        CliCommand.withExamples([
          { command: "CUSTOMERIO_WRITE_KEY=… cdp-analytics import events.ndjson", description: "Import a file" },
          { command: "cdp-analytics import --dry-run events.ndjson.gz", description: "Check a file, send nothing" },
          { command: "zcat *.gz | cdp-analytics import --rate 2000 -", description: "Standard input, 2000 events/s" }
        ])
      ),
      collectorCommand(exit)
    ])
  )

const usage = (message: string) => new ImportError({ message, exitCode: exitCodes.usage })

/** Why the import stopped before the end: what to say, and the exit code. */
interface Stop {
  readonly reason: string
  readonly exitCode: number
}

const stateOf = (fileImport: FileImport) => ({
  file: fileImport.file,
  counts: fileImport.counts,
  bytesRead: fileImport.bytesRead,
  size: fileImport.size,
  checkpoint: fileImport.checkpoint,
  failed: fileImport.failed
})

const runImport = (input: ImportInput): Effect.Effect<number, ImportError, Io> =>
  Effect.gen(function*() {
    const io = yield* Io
    const clock = yield* Clock.Clock
    const { files } = input
    if (Option.isSome(input.checkpoint) && files.length > 1) {
      return yield* usage("--checkpoint names the checkpoint of one file: import one file at a time with it")
    }
    if (files.filter(isStdin).length > 1) return yield* usage("standard input (-) can be read only once")
    if (Option.isSome(input.rate) && input.rate.value <= 0) return yield* usage("--rate must be a positive number")
    if (input.eventsPerRequest < 1) return yield* usage("--events-per-request must be at least 1")
    if (input.concurrency < 1) return yield* usage("--concurrency must be at least 1")
    if (!input.dryRun && Option.isNone(input.writeKey)) {
      return yield* usage("no write key: set CUSTOMERIO_WRITE_KEY (or pass --write-key); --dry-run needs none")
    }
    const progress = new Progress(io.stderr, { dryRun: input.dryRun, now: clock.currentTimeMillisUnsafe() })
    const stop = Deferred.makeUnsafe<Stop>()
    const stopWith = (stopped: Stop) => Deferred.doneUnsafe(stop, Effect.succeed(stopped))
    // What cannot go on (a checkpoint that does not match, a file that fails, one that cannot be saved) stops the
    // import with its reason; the summary still tells what was done before.
    let errorPrinted = false
    const stopOnError = (effect: Effect.Effect<void, ImportError>) =>
      Effect.catch(effect, (error) =>
        Effect.sync(() => {
          // Printed even when a signal stopped the import first: a save that fails then must not go unseen.
          if (!errorPrinted) progress.print(`error: ${error.message}`)
          errorPrinted = true
          stopWith({ reason: error.message, exitCode: error.exitCode })
        }))
    // The first signal stops reading; the second stops waiting for the requests in flight.
    const secondSignal = Deferred.makeUnsafe<void>()
    yield* Effect.forkScoped(Effect.gen(function*() {
      const signal = yield* io.signal
      progress.print(
        `${signal}: stopping; waiting up to ${stopTimeoutMillis / 1000}s for the requests in flight (again to stop now)`
      )
      stopWith({ reason: `${signal} (run the same command to resume)`, exitCode: exitCodes[signal] })
      yield* io.signal
      Deferred.doneUnsafe(secondSignal, Effect.void)
    }))
    const engine = input.dryRun ? undefined : yield* makeEngine(input, input.writeKey.pipe(Option.getOrThrow)).pipe(
      // The client's own log lines (a key it ignored, say) are printed above the progress bar.
      Effect.provide(Logger.layer([Logger.make((options) => progress.print(String(options.message)))]))
    )
    const refused = (error: AnalyticsError) =>
      stopWith({
        reason:
          `${error.message}: fix it and run the same command to resume (the checkpoint is before every line not delivered)`,
        exitCode: exitCodes.incomplete
      })
    const report = {
      rejected: (file: string, line: number, reason: string) => progress.rejected(file, line, reason),
      failed: (file: string, line: number, error: AnalyticsError) => progress.failed(file, line, error)
    }
    const imports: Array<FileImport> = []
    // Every 100 ms: the checkpoint of the file being imported, and the progress. A checkpoint or failed file that
    // cannot be written (a full disk) stops the import: going on would send what a resume could not account for.
    const tick = Effect.suspend(() => {
      const current = imports[imports.length - 1]
      if (current === undefined) return Effect.void
      return Effect.andThen(
        stopOnError(current.save),
        Effect.sync(() =>
          progress.tick(stateOf(current), imports.length - 1, files.length, clock.currentTimeMillisUnsafe())
        )
      )
    })
    // Every file is looked up before the first is read: a missing one is a usage error, not a stop halfway through.
    const planned = yield* Effect.forEach(files, (file) => {
      const checkpoint = isStdin(file) || input.dryRun
        ? undefined
        : Option.getOrElse(input.checkpoint, () => `${file}.checkpoint`)
      return Effect.try({
        try: () =>
          new FileImport(
            file,
            {
              checkpoint,
              failed: checkpoint === undefined ? undefined : `${checkpoint.replace(/\.checkpoint$/, "")}.failed.ndjson`,
              rate: Option.getOrUndefined(input.rate),
              allowMissingTimestamp: input.allowMissingTimestamp
            },
            engine,
            report,
            refused
          ),
        catch: (error) =>
          error instanceof ImportError ? error : new ImportError({ message: String(error), exitCode: exitCodes.usage })
      })
    })
    const ticker = yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(100), tick)))
    const importFile = (fileImport: FileImport) =>
      Effect.gen(function*() {
        const resumed = yield* fileImport.resume
        // Listed (and saved by the ticker) once it begins: a file whose checkpoint is refused is not in the summary.
        imports.push(fileImport)
        if (resumed !== undefined) {
          progress.print(
            `${fileImport.file}: resuming after line ${resumed.lines} (byte ${resumed.offset}) from ${fileImport.checkpoint}`
          )
        }
        // Reading ends at the end of the file, or when the import is stopped (a signal, or the API refused the key).
        yield* Effect.raceFirst(fileImport.read, Deferred.await(stop))
        if (engine !== undefined) yield* Effect.raceFirst(engine.flush, Deferred.await(stop))
        yield* fileImport.save
      })
    for (const fileImport of planned) {
      if (Deferred.isDoneUnsafe(stop)) break
      yield* stopOnError(importFile(fileImport))
    }
    if (engine !== undefined) {
      // Stopped: the requests in flight get a bounded time, and what they do not settle stays before the checkpoint.
      const closing = yield* Effect.forkDetach(
        engine.close(Deferred.isDoneUnsafe(stop) ? stopTimeoutMillis : undefined)
      )
      yield* Effect.raceFirst(Fiber.join(closing), Deferred.await(secondSignal))
    }
    yield* Fiber.interrupt(ticker)
    const last = imports[imports.length - 1]
    if (last !== undefined) yield* stopOnError(last.save)
    progress.end()
    const stopped = Deferred.isDoneUnsafe(stop) ? yield* Deferred.await(stop) : undefined
    const complete = imports.length === files.length
      && imports.every(({ counts }) => counts.rejected === 0 && counts.failed === 0 && unsettled(counts) === 0)
    const exitCode = stopped?.exitCode ?? (complete ? exitCodes.ok : exitCodes.incomplete)
    const summary = {
      files: imports.map(stateOf),
      dryRun: input.dryRun,
      elapsedMillis: clock.currentTimeMillisUnsafe() - progress.started,
      stoppedBy: stopped?.reason,
      exitCode
    }
    io.stdout.write(input.json ? summaryJson(summary) : summaryText(summary))
    return exitCode
  }).pipe(Effect.scoped)

/** The client that sends the import: the HttpClient in the context (tests), else node:http with a socket per request. */
const makeEngine = (input: ImportInput, writeKey: Redacted.Redacted<string>) =>
  Effect.gen(function*() {
    const provided = yield* Effect.serviceOption(HttpClient.HttpClient)
    const make = Engine.make({
      options: {
        writeKey,
        ...(Option.isSome(input.host) ? { host: input.host.value } : {}),
        region: input.region,
        maxEventsInBatch: input.eventsPerRequest,
        maxConcurrentRequests: input.concurrency,
        // Enough to keep every request slot busy; no more, so memory and the re-sends after a crash stay small.
        maxQueueSize: Math.max(1_000, input.eventsPerRequest * input.concurrency * 10)
      },
      // The importer reports every failed line itself.
      isHandled: () => true
    })
    // Built in the import's scope: its sockets live as long as the client.
    const httpClient = Option.isSome(provided)
      ? provided.value
      : Context.get(
        yield* Layer.build(DefaultHttpClient.layer({ maxSockets: input.concurrency })),
        HttpClient.HttpClient
      )
    return yield* Effect.provideService(make, HttpClient.HttpClient, httpClient)
  }).pipe(Effect.mapError((error) => usage(error.message)))

/**
 * Runs the program with `args` (without `node` and the script) and returns its exit code. Never fails: errors are
 * printed on standard error and become their exit code.
 */
export const run = (args: ReadonlyArray<string>): Effect.Effect<number, never, Io> =>
  Effect.gen(function*() {
    const io = yield* Io
    let exitCode: number = exitCodes.ok
    const cli = CliCommand.runWith(makeProgram((code) => exitCode = code), { version: libraryVersion })
    const exit = yield* cli(args).pipe(
      Effect.provide(environment(io)),
      Effect.provideService(Console.Console, consoleOf(io)),
      Effect.exit
    )
    if (Exit.isSuccess(exit)) return exitCode
    const error = Cause.findErrorOption(exit.cause)
    // effect/cli printed the usage errors with the help already.
    if (Option.isSome(error) && CliError.isCliError(error.value)) return exitCodes.usage
    if (Option.isSome(error) && error.value instanceof ImportError) {
      io.stderr.write(`error: ${error.value.message}\n`)
      return error.value.exitCode
    }
    io.stderr.write(`error: ${Cause.pretty(exit.cause)}\n`)
    return exitCodes.incomplete
  })

/** `console.log` and `console.error` of effect/cli (help, usage errors) go to the program's own outputs. */
const consoleOf = (io: Io["Service"]): Console.Console =>
  Object.assign(Object.create(globalThis.console), {
    log: (...args: ReadonlyArray<unknown>) => io.stdout.write(`${args.map(String).join(" ")}\n`),
    error: (...args: ReadonlyArray<unknown>) => io.stderr.write(`${args.map(String).join(" ")}\n`)
  })
