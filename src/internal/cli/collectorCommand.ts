/**
 * `cdp-analytics collector`: the local collector with its inspector, until Ctrl-C. It prints the inspector's address
 * (with the token of its fault controls) as its first line.
 *
 * The collector runs on `@effect/platform-node`, an optional peer dependency: it is loaded when the command runs,
 * never before, so the other commands work without it, and this one says what to install when it is missing.
 */
import * as CliCommand from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Path from "node:path"
import * as Url from "node:url"
import type * as TrackingPlan from "../../TrackingPlan.ts"
import { isLoopback } from "../collector/security.ts"
// A cycle, on purpose and harmless: command.ts lists this command, which runs under command.ts's `Io`, and neither
// module uses the other while it loads.
import { exitCodes, Io } from "./command.ts"

/** What the command needs of the collector's module: the module itself in the program, a stand-in in tests. */
export type LoadCollector = () => Promise<typeof import("../../Collector.ts")>

const loadCollector: LoadCollector = () => import("../../Collector.ts")

const params = {
  port: Flag.Int("port").pipe(
    Flag.withDefault(8080),
    Flag.withDescription("The port to listen on; 0 picks a free one. Default: 8080")
  ),
  host: Flag.String("host").pipe(
    Flag.withDefault("127.0.0.1"),
    Flag.withDescription(
      "The address to listen on. Default: 127.0.0.1 (this machine only). Another address shows the payloads to that network."
    )
  ),
  plan: Flag.String("plan").pipe(
    Flag.optional,
    Flag.withDescription(
      "A module whose default export (or export named plan) is a TrackingPlan: each message is checked against it."
    )
  ),
  writeKey: Flag.Redacted("write-key").pipe(
    Flag.optional,
    Flag.withDescription("Accept only this write key. Default: any key (a request must still carry one).")
  ),
  allowHost: Flag.String("allow-host").pipe(
    Flag.atLeast(0),
    Flag.withDescription(
      "Also answer requests sent to this host name, such as host.docker.internal (repeatable). Other Host headers are refused, against DNS rebinding."
    )
  ),
  retain: Flag.Int("retain").pipe(
    Flag.withDefault(100_000),
    Flag.withDescription(
      "How many of the latest messages and requests are kept to show; the counters count everything. Default: 100000"
    )
  )
}

type Input = CliCommand.Command.Config.Infer<typeof params>

/** The command; `exit` is told the code to exit with, `load` brings the collector's module. */
export const collectorCommand = (exit: (code: number) => void, load: LoadCollector = loadCollector) =>
  CliCommand.make("collector", params, (input) => Effect.map(runCollector(input, load), exit)).pipe(
    CliCommand.withDescription(
      "Starts a local stand-in for the Pipelines API, with a live inspector of what it receives at its address: point a client's host at it and open the printed address in a browser. Runs until Ctrl-C."
    ),
    CliCommand.withExamples([
      { command: "cdp-analytics collector", description: "Listen on http://127.0.0.1:8080" },
      { command: "cdp-analytics collector --port 0 --plan ./tracking-plan.ts", description: "A free port, a plan" },
      {
        command: "cdp-analytics collector --host 0.0.0.0 --allow-host host.docker.internal",
        description: "Reachable from containers"
      }
    ])
  )

const missingPeer = (error: unknown) =>
  error instanceof Error && /@effect\/platform-node/.test(error.message) &&
  (error as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND"

/** Finds the plan a module exports: its default export, an export named `plan` or `trackingPlan`, or its only plan. */
const planOf = (exports: Record<string, unknown>, isPlan: (u: unknown) => u is TrackingPlan.Any) => {
  for (const name of ["default", "plan", "trackingPlan"]) {
    if (isPlan(exports[name])) return exports[name]
  }
  const plans = Object.values(exports).filter(isPlan)
  return plans.length === 1 ? plans[0] : undefined
}

const describeError = (error: unknown) => error instanceof Error ? error.message : String(error)

const runCollector = (input: Input, load: LoadCollector): Effect.Effect<number, never, Io> =>
  Effect.gen(function*() {
    const io = yield* Io
    const fail = (message: string, code: number = exitCodes.incomplete) => {
      io.stderr.write(`error: ${message}\n`)
      return code
    }
    if (input.port < 0 || input.port > 65_535) return fail("--port must be between 0 and 65535", exitCodes.usage)
    if (input.retain < 1) return fail("--retain must be at least 1", exitCodes.usage)

    const loaded = yield* Effect.tryPromise(load).pipe(Effect.result)
    if (loaded._tag === "Failure") {
      const cause = loaded.failure.cause
      return fail(
        missingPeer(cause)
          ? "the collector runs on @effect/platform-node, an optional peer dependency that is not installed. Install it next to cdp-analytics-effect:\n\n  npm install @effect/platform-node\n"
          : `the collector could not be loaded: ${describeError(cause)}`
      )
    }
    const Collector = loaded.success

    let trackingPlan: TrackingPlan.Any | undefined
    if (Option.isSome(input.plan)) {
      const file = Path.resolve(input.plan.value)
      const modules = yield* Effect.tryPromise(() =>
        Promise.all([import(Url.pathToFileURL(file).href), import("../../TrackingPlan.ts")])
      ).pipe(Effect.result)
      if (modules._tag === "Failure") {
        return fail(`--plan ${input.plan.value}: ${describeError(modules.failure.cause)}`, exitCodes.usage)
      }
      const [exports, { isTrackingPlan }] = modules.success
      trackingPlan = planOf(exports, isTrackingPlan)
      if (trackingPlan === undefined) {
        return fail(
          `--plan ${input.plan.value}: the module exports no TrackingPlan (export default TrackingPlan.make({ … }))`,
          exitCodes.usage
        )
      }
    }

    const started = yield* Collector.make({
      port: input.port,
      host: input.host,
      allowedHosts: input.allowHost,
      retain: input.retain,
      trackingPlan,
      writeKey: Option.getOrUndefined(input.writeKey)
    }).pipe(Effect.result)
    if (started._tag === "Failure") {
      const cause = started.failure.cause as { code?: unknown } | undefined
      return fail(
        cause?.code === "EADDRINUSE"
          ? `port ${input.port} is taken on ${input.host}: pass another --port, or --port 0 for a free one`
          : `the collector could not listen on ${input.host}:${input.port}: ${describeError(started.failure.cause)}`
      )
    }
    const collector = started.success
    io.stdout.write(
      [
        `Collector listening on ${collector.inspectorUrl ?? collector.url}`,
        `  clients:    set the client's host to ${collector.url} (POST ${collector.path}, ${
          Option.isSome(input.writeKey) ? "with the --write-key given" : "any write key"
        })`,
        "  inspector:  open the address above in a browser; without its ?token=… the page is read-only",
        ...(Option.isSome(input.plan) ? [`  plan:       messages are checked against ${input.plan.value}`] : []),
        "  stop:       Ctrl-C",
        ""
      ].join("\n")
    )
    if (!isLoopback(input.host)) {
      io.stderr.write(
        `warning: listening on ${input.host}, not on 127.0.0.1: the payloads, and the page that shows them, are visible to that network (the fault controls still need the token)\n`
      )
    }
    const signal = yield* io.signal
    const stats = yield* collector.stats
    io.stderr.write(
      `${signal}: stopped after ${stats.requests} request${
        stats.requests === 1 ? "" : "s"
      } and ${stats.messages} message${stats.messages === 1 ? "" : "s"}\n`
    )
    return exitCodes.ok
  }).pipe(Effect.scoped)
