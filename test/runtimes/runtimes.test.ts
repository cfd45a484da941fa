/**
 * `npm run test:runtimes`: the library where users run it, each runtime an exact-pinned devDependency from the npm
 * registry, so `npm ci` is all it needs: Node 22 (`node`, the project's own), Node 24 (`node24`, an alias of the
 * `node` package, run by path), Bun (`bun`), Deno (`deno`) and workerd (`miniflare` and its `workerd`).
 *
 * Each case runs a small program (test/runtimes/programs/) against its own local collector on 127.0.0.1 that answers
 * the first request 503: one call of each type, then close. It passes when the program ends by itself, reports
 * every call, and the collector holds the six messages exactly once, with the 503'd batch accepted on its retry.
 * Workers are bundled into one file with rolldown, as Wrangler bundles them, and run by workerd through miniflare.
 * The runtime examples (examples/runtimes/) run here too, each on its runtime.
 */
import { assert, describe, it } from "@effect/vitest"
import { Miniflare } from "miniflare"
import { execFile } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { rolldown } from "rolldown"
import * as Collector from "../../src/Collector.ts"
import { limiter } from "../utils/slots.ts"
import { calls, type Summary } from "./programs/calls.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const programs = `${root}test/runtimes/programs/`
const writeKey = "runtime-write-key"

const versionOf = (name: string): string =>
  JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, "utf8")).version

/**
 * A runtime that runs a file: the command before the file, what the program must report it is, and what the library
 * must put in each message's `_metadata.jsRuntime`.
 */
interface Runtime {
  readonly name: string
  readonly command: readonly [string, ...Array<string>]
  readonly reports: string
  readonly jsRuntime: string
}

const bun: Runtime = {
  name: "Bun",
  command: [`${root}node_modules/.bin/bun`],
  reports: `bun ${versionOf("bun")}`,
  jsRuntime: "bun"
}
const deno: Runtime = {
  name: "Deno",
  // The least the programs need: the environment and the loopback network. No lockfile is written.
  command: [`${root}node_modules/.bin/deno`, "run", "--no-lock", "--allow-env", "--allow-net=127.0.0.1"],
  reports: `deno ${versionOf("deno")}`,
  jsRuntime: "deno"
}
const runtimes: ReadonlyArray<Runtime> = [
  {
    name: "Node 22",
    command: [`${root}node_modules/node/bin/node`],
    reports: `node ${versionOf("node")}`,
    jsRuntime: "node"
  },
  {
    name: "Node 24",
    command: [`${root}node_modules/node24/bin/node`],
    reports: `node ${versionOf("node24")}`,
    jsRuntime: "node"
  },
  bun,
  deno
]

const workerd = { reports: "workerd", jsRuntime: "cloudflare-worker" }

/** The newest date the pinned workerd knows, from its version (1.YYYYMMDD.n). */
const compatibilityDate = versionOf("workerd").split(".")[1]!.replace(/^(\d{4})(\d\d)(\d\d)$/, "$1-$2-$3")

// Each case is CPU-bound while its runtime loads Effect; more at once than this only makes them all slower.
const withSlot = limiter(Number(process.env.RUNTIMES_CONCURRENCY ?? 2))

/** A collector for one case, closed after it. */
const withCollector = async <A>(run: (collector: Collector.Handle) => Promise<A>): Promise<A> => {
  const collector = await Collector.start({ writeKey })
  try {
    return await run(collector)
  } finally {
    await collector.close()
  }
}

interface Exited {
  readonly code: number | string | null
  readonly stdout: string
  readonly output: string
}

/** Runs `file` on `runtime` pointed at the collector, until it exits by itself. */
const runFile = (runtime: Runtime, file: string, args: ReadonlyArray<string>, host: string) =>
  new Promise<Exited>((resolve) => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("CUSTOMERIO_")))
    const [command, ...before] = runtime.command
    execFile(
      command,
      [...before, file, ...args],
      {
        cwd: root,
        env: { ...env, CUSTOMERIO_WRITE_KEY: writeKey, CUSTOMERIO_HOST: host },
        // Not an expectation, a stop for a program that never exits (a leaked socket or timer): it then fails.
        timeout: 90_000
      },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : error.code ?? error.signal ?? null, stdout, output: stdout + stderr })
    )
  })

/** A Worker bundled as Wrangler bundles one: a single ES module, Workers' export conditions, Node's modules left as imports. */
const bundle = async (entry: string): Promise<string> => {
  const build = await rolldown({
    input: entry,
    platform: "browser",
    resolve: { conditionNames: ["workerd", "worker", "browser", "import", "default"] },
    external: [/^node:/],
    logLevel: "warn"
  })
  try {
    const { output } = await build.generate({ format: "esm", codeSplitting: false })
    const [chunk, ...rest] = output
    assert.strictEqual(rest.length, 0, "one file")
    assert.strictEqual(chunk?.type, "chunk")
    return chunk.type === "chunk" ? chunk.code : ""
  } finally {
    await build.close()
  }
}

/** Module specifiers the bundle loads, statically (`import … from "x"`, `import "x"`) or with `import("x")`. */
const importsOf = (code: string) => ({
  static: [...code.matchAll(/(?:^|[;}])\s*(?:import|export)\s*(?:[\w$*{},\s]+\s*from\s*)?["'`]([^"'`]+)["'`]/gm)]
    .map(([, s]) => s!),
  dynamic: [...code.matchAll(/\bimport\(\s*["'`]([^"'`]+)["'`]\s*\)/g)].map(([, s]) => s!)
})

/** Runs a bundled Worker in workerd, answers one request, and leaves it running until `after` is done. */
const inWorker = async <A>(
  script: string,
  options: { readonly nodejsCompat: boolean; readonly host: string; readonly path?: string },
  after: (response: Response) => Promise<A>
): Promise<A> => {
  const worker = new Miniflare({
    modules: [{ type: "ESModule", path: "worker.js", contents: script }],
    compatibilityDate,
    compatibilityFlags: options.nodejsCompat ? ["nodejs_compat"] : [],
    bindings: { CUSTOMERIO_WRITE_KEY: writeKey, CUSTOMERIO_HOST: options.host },
    host: "127.0.0.1",
    port: 0
  })
  try {
    const response = await worker.dispatchFetch(`http://worker.test${options.path ?? "/"}`)
    return await after(response as unknown as Response)
  } finally {
    await worker.dispose()
  }
}

/** One line per message, as examples.test.ts writes them. */
const line = (m: Collector.ReceivedMessage): string =>
  [m.type, m.userId ?? m.anonymousId, m.event ?? m.name ?? m.groupId ?? m.previousId]
    .filter((part) => part !== undefined)
    .join(" ")

const sixCalls = [
  `identify ${calls.identify.userId}`,
  `track ${calls.track.userId} ${calls.track.event}`,
  `page ${calls.page.userId} ${calls.page.name}`,
  `screen ${calls.screen.userId} ${calls.screen.name}`,
  `group ${calls.group.userId} ${calls.group.groupId}`,
  `alias ${calls.alias.userId} ${calls.alias.previousId}`
]

/** What a six-call program must have done, once it has closed its client. */
const checkSixCalls = (
  collector: Collector.Handle,
  summary: Summary,
  runtime: Pick<Runtime, "reports" | "jsRuntime">,
  context: string
) => {
  assert.strictEqual(summary.runtime, runtime.reports, "the program ran on the runtime under test")
  assert.deepStrictEqual(summary.outcomes.map((o) => o.type), ["identify", "track", "page", "screen", "group", "alias"])
  assert.deepStrictEqual(summary.outcomes.filter((o) => o.error !== undefined), [], "every call reported delivered")

  const messages = collector.messages()
  assert.deepStrictEqual(messages.map(line).toSorted(), sixCalls.toSorted(), context)
  assert.sameMembers(messages.map((m) => m.messageId), summary.outcomes.map((o) => o.messageId))
  const track = messages.find((m) => m.type === "track")
  assert.strictEqual((track?.["properties"] as { runtime?: unknown } | undefined)?.runtime, runtime.reports)
  // The library tells the runtime apart too, for the API's `_metadata`.
  const jsRuntimes = messages.map((m) => (m["_metadata"] as { jsRuntime?: unknown } | undefined)?.jsRuntime)
  assert.deepStrictEqual(jsRuntimes, messages.map(() => runtime.jsRuntime))

  // The first request was answered 503; its batch came again, marked as a retry, and was accepted once.
  const requests = collector.requests()
  assert.strictEqual(requests[0]?.status, 503, context)
  assert.isUndefined(requests[0]?.retryCount)
  const retry = requests.find((r) => (r.retryCount ?? 0) >= 1)
  assert.strictEqual(retry?.status, 200, context)
  assert.strictEqual(retry?.messages, requests[0]?.messages)
  assert.deepStrictEqual(requests.slice(1).map((r) => r.status), requests.slice(1).map(() => 200))
  assert.strictEqual(collector.stats().duplicates, 0)
}

const lastLine = (stdout: string): string => stdout.trimEnd().split("\n").at(-1) ?? ""

describe("runtimes", () => {
  it("are the pinned versions, with Node 22 first on the PATH of npm scripts", () => {
    assert.match(versionOf("node"), /^22\./)
    assert.match(versionOf("node24"), /^24\./)
    // Both packages install a `node` command. A fresh `npm ci` links the first in path order (`node`); an `npm install`
    // that adds or updates `node24` in an existing node_modules lets it take the link over.
    assert.strictEqual(
      process.version,
      `v${versionOf("node")}`,
      "node_modules/.bin/node is not the pinned Node 22: run `npm ci`"
    )
  })

  describe.concurrent("a program per API sends each call type, is retried after a 503, and closes", () => {
    for (const runtime of runtimes) {
      for (const api of ["effect", "facade"] as const) {
        it(`${runtime.name}: ${api === "effect" ? "Effect API (FetchHttpClient)" : "Promise facade"}`, () =>
          withSlot(() =>
            withCollector(async (collector) => {
              collector.script([Collector.Answer.status(503)])
              const { code, output, stdout } = await runFile(runtime, `${programs}main.ts`, [api], collector.url)
              assert.strictEqual(code, 0, output)
              checkSixCalls(collector, JSON.parse(lastLine(stdout)), runtime, output)
            })
          ))
      }
    }

    const workers = [
      {
        name: "workerd: a Worker using the Effect API, without nodejs_compat",
        entry: "worker-effect.ts",
        nodejsCompat: false,
        imports: (imports: ReturnType<typeof importsOf>) =>
          assert.deepStrictEqual(imports, { static: [], dynamic: [] }, "the Effect API loads no node: module")
      },
      {
        name: "workerd: the Promise facade in a Worker without nodejs_compat (no node:http: fetch)",
        entry: "worker-facade.ts",
        nodejsCompat: false,
        // Node's modules are only tried, with import(): a static import would stop the Worker from loading at all.
        imports: (imports: ReturnType<typeof importsOf>) => assert.deepStrictEqual(imports.static, [])
      },
      {
        name: "workerd: the Promise facade in a Worker with nodejs_compat",
        entry: "worker-facade.ts",
        nodejsCompat: true,
        imports: (imports: ReturnType<typeof importsOf>) => assert.deepStrictEqual(imports.static, [])
      }
    ]
    for (const worker of workers) {
      it(worker.name, () =>
        withSlot(async () => {
          const script = await bundle(`${programs}${worker.entry}`)
          worker.imports(importsOf(script))
          await withCollector(async (collector) => {
            collector.script([Collector.Answer.status(503)])
            const summary = await inWorker(
              script,
              { nodejsCompat: worker.nodejsCompat, host: collector.url },
              async (response) => {
                const text = await response.text()
                assert.strictEqual(response.status, 200, text)
                return JSON.parse(text) as Summary
              }
            )
            checkSixCalls(collector, summary, workerd, JSON.stringify(collector.requests()))
          })
        }))
    }
  })

  describe.concurrent("the runtime examples run on their runtime", () => {
    const scripts = [
      {
        file: "examples/runtimes/deno.ts",
        runtime: deno,
        event: "Report Generated",
        says: "sent 2 messages from Deno"
      },
      { file: "examples/runtimes/bun.ts", runtime: bun, event: "Build Finished", says: "sent 2 messages from Bun" }
    ]
    for (const example of scripts) {
      it(`${example.file} on ${example.runtime.name}`, () =>
        withSlot(() =>
          withCollector(async (collector) => {
            const { code, output } = await runFile(example.runtime, `${root}${example.file}`, [], collector.url)
            assert.strictEqual(code, 0, output)
            assert.include(output, example.says)
            assert.deepStrictEqual(
              collector.messages().map(line).toSorted(),
              ["identify 019mr8mf4r", `track 019mr8mf4r ${example.event}`]
            )
          })
        ))
    }

    it("examples/runtimes/cloudflare-worker.ts in workerd", () =>
      withSlot(async () => {
        const script = await bundle(`${root}examples/runtimes/cloudflare-worker.ts`)
        assert.deepStrictEqual(importsOf(script), { static: [], dynamic: [] })
        await withCollector(async (collector) => {
          const snapshot = await inWorker(
            script,
            { nodejsCompat: false, host: collector.url, path: "/pricing?plan=team" },
            async (response) => {
              assert.strictEqual(response.status, 200)
              assert.strictEqual(await response.text(), "Hello from /pricing\n")
              // The page view is sent after the response, under ctx.waitUntil: wait for it before workerd stops.
              return collector.waitFor(1, { timeout: 60_000 })
            }
          )
          const [page] = snapshot.messages
          assert.strictEqual(page?.type, "page")
          assert.strictEqual(page?.["name"], "/pricing")
          assert.deepStrictEqual(page?.["properties"], { path: "/pricing", search: "?plan=team" })
        })
      }))
  })
})
