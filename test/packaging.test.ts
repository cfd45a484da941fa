/**
 * The package as users get it: `npm run build`, `npm pack`, then `npm install <tarball>` alone in a fresh project
 * under the OS temp folder, exactly as a user would run it. npm installs the required peer (`effect`) itself and
 * never the optional one (`@effect/platform-node`), so this proves the root works with nothing else installed:
 * native ESM and `require` both import it and deliver a real event to a server on 127.0.0.1 with the facade's
 * default transport. It also walks the built module graph: the Effect API and the root reach no `node:` module and
 * no optional peer.
 *
 * `effect` comes from the registry (npm's cache after `npm ci`); TypeScript and `@types/node` are linked from this
 * project for the type-check only.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, resolve as resolvePath } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../", import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"))

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

const run = (command: string, args: ReadonlyArray<string>, cwd: string): Promise<Run> =>
  new Promise((resolve) =>
    execFile(
      command,
      args,
      { cwd, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, stdout, stderr })
    )
  )

const node = (args: ReadonlyArray<string>, cwd: string) => run(process.execPath, args, cwd)

// The npm that runs this test (`npm test` sets npm_execpath), on the same Node; else the one on the PATH.
const npm = (args: ReadonlyArray<string>, cwd: string) =>
  process.env.npm_execpath?.endsWith(".js")
    ? run(process.execPath, [process.env.npm_execpath, ...args], cwd)
    : run("npm", args, cwd)

const ok = (result: Run, what: string): string => {
  assert.strictEqual(result.code, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`)
  return result.stdout
}

let temp: string
let consumer: string
let installed: string

beforeAll(async () => {
  temp = mkdtempSync(join(tmpdir(), "cdp-analytics-effect-pack-"))
  consumer = join(temp, "consumer")
  installed = join(consumer, "node_modules", pkg.name)

  ok(await npm(["run", "build"], root), "npm run build")
  // Already built: skip the prepack script.
  const packed = JSON.parse(
    ok(await npm(["pack", "--json", "--ignore-scripts", "--pack-destination", temp], root), "npm pack")
  )
  const tarball = join(temp, packed[0].filename)

  mkdirSync(consumer)
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }))
  // As a user would: no flag that changes what npm installs. --prefer-offline only lets npm use its cache.
  ok(await npm(["install", tarball, "--prefer-offline", "--no-audit", "--no-fund"], consumer), "npm install <tarball>")
}, 300_000)

afterAll(() => {
  if (temp !== undefined) rmSync(temp, { recursive: true, force: true })
})

const script = (name: string, source: string) => {
  writeFileSync(join(consumer, name), source)
  return name
}

/** A Pipelines stand-in in plain node:http, since the consumer has nothing else. */
const loopback = `
import { createServer } from "node:http"
const received = []
const clients = []
const server = createServer((req, res) => {
  // fetch (undici) sends sec-fetch-mode; node:http does not.
  clients.push(req.headers["sec-fetch-mode"] === undefined ? "node:http" : "fetch")
  const chunks = []
  req.on("data", (chunk) => chunks.push(chunk))
  req.on("end", () => {
    received.push(...JSON.parse(Buffer.concat(chunks).toString()).batch)
    res.writeHead(200, { "content-type": "application/json" }).end("{}")
  })
})
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
const host = "http://127.0.0.1:" + server.address().port
`

describe("the packed package, installed alone", () => {
  it("brings effect and nothing else: no @effect/platform-node, no @effect/sql-pg", () => {
    assert.isTrue(existsSync(join(consumer, "node_modules", "effect", "package.json")), "the required peer")
    assert.isFalse(existsSync(join(consumer, "node_modules", "@effect", "platform-node")), "not the optional ones")
    assert.isFalse(existsSync(join(consumer, "node_modules", "@effect", "sql-pg")), "not the optional ones")
    const shipped = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"))
    assert.isUndefined(shipped.dependencies)
    assert.deepStrictEqual(shipped.peerDependenciesMeta, {
      "@effect/platform-node": { optional: true },
      "@effect/sql-pg": { optional: true }
    })
  })

  it("ships dist (ESM + .d.ts), the README with the docs and examples it links to, the LICENSE, and no tests", () => {
    const shipped = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"))
    assert.strictEqual(shipped.type, "module")
    assert.strictEqual(shipped.license, "MIT")
    assert.strictEqual(shipped.exports["."].types, "./dist/index.d.ts")
    for (
      const file of [
        "dist/index.js",
        "dist/index.d.ts",
        "dist/Analytics.js",
        "dist/AnalyticsClient.d.ts",
        "README.md",
        "LICENSE",
        "docs/getting-started.md",
        "docs/delivery-guarantees.md",
        "examples/02_track.ts"
      ]
    ) {
      assert.isTrue(existsSync(join(installed, file)), file)
    }
    assert.include(readFileSync(join(installed, "LICENSE"), "utf8"), "MIT License")
    assert.isFalse(existsSync(join(installed, "test")))
    // Every relative link of the README resolves inside the installed package.
    const readme = readFileSync(join(installed, "README.md"), "utf8")
    for (const [, target] of readme.matchAll(/\]\(([^)\s#]+)[^)]*\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue
      assert.isTrue(existsSync(join(installed, target!)), `README links to ${target}`)
    }
  })

  it("native ESM: imports the root and delivers with the facade's default transport", async () => {
    const file = script(
      "esm.mjs",
      `${loopback}
import Default, { Analytics, AnalyticsClient, AnalyticsError, CallContext, Message, ValidationError } from "${pkg.name}"
import * as AnalyticsClientByPath from "${pkg.name}/AnalyticsClient"
import { Effect } from "effect"

const analytics = new Default({ writeKey: "wk", host })
const outcome = new Promise((resolve) => analytics.track({ userId: "u1", event: "from_esm" }, (err, ctx) => resolve({ err, ctx })))
await analytics.closeAndFlush()
const { err, ctx } = await outcome
let thrown
try {
  analytics.track({ userId: "u1" })
} catch (error) {
  thrown = error
}
const recorded = await Effect.runPromise(
  Effect.gen(function*() {
    const client = yield* AnalyticsClientByPath.AnalyticsClient
    return (yield* client.identify({ userId: 7 })).message
  }).pipe(Effect.provide(AnalyticsClient.layerTest))
)
let internal = "exported"
try {
  await import("${pkg.name}/internal/engine")
} catch (error) {
  internal = error.code
}
server.close()
console.log(JSON.stringify({
  sameClass: Default === Analytics,
  transport: clients,
  delivered: err === undefined && ctx instanceof CallContext,
  received: received.map((m) => m.event),
  properties: received[0].properties,
  validation: thrown instanceof ValidationError && thrown instanceof AnalyticsError.ValidationError && thrown.field,
  samePath: AnalyticsClientByPath.layerTest === AnalyticsClient.layerTest,
  recordedUserId: recorded.userId,
  messageLimit: Message.MAX_MESSAGE_BYTES,
  internal
}))
`
    )
    const out = JSON.parse(ok(await node([file], consumer), "node esm.mjs"))
    assert.deepStrictEqual(out, {
      sameClass: true,
      transport: ["node:http"],
      delivered: true,
      received: ["from_esm"],
      properties: {},
      validation: "event",
      samePath: true,
      recordedUserId: "7",
      messageLimit: 32 * 1024,
      internal: "ERR_PACKAGE_PATH_NOT_EXPORTED"
    })
  })

  it("cdp-analytics-effect/node: the bundled Promise API imports, delivers, refuses, and needs nothing but Node", async () => {
    const file = script(
      "node-entry.mjs",
      `${loopback}
import Default, { Analytics, AnalyticsError, CallContext, ValidationError } from "${pkg.name}/node"
import { createRequire } from "node:module"
const required = createRequire(import.meta.url)("${pkg.name}/node")
const analytics = new Analytics({ writeKey: "wk", host })
const outcome = new Promise((resolve) => analytics.track({ userId: "u1", event: "from_node_entry" }, (err, ctx) => resolve({ err, ctx })))
await analytics.closeAndFlush()
const { err, ctx } = await outcome
let thrown
try {
  analytics.track({ userId: "u1" })
} catch (error) {
  thrown = error
}
const failing = new Analytics({ writeKey: "wk", host: "http://127.0.0.1:9", maxRetries: 0, logLevel: "None" })
const failure = await new Promise((resolve) => failing.track({ userId: "u1", event: "e" }, (error) => resolve(error)))
await failing.closeAndFlush()
server.close()
console.log(JSON.stringify({
  sameClass: Default === Analytics && required === Analytics,
  transport: clients,
  delivered: err === undefined && ctx instanceof CallContext,
  received: received.map((m) => m.event),
  validation: thrown instanceof ValidationError && thrown.name === "ValidationError" && thrown.field,
  failure: failure instanceof AnalyticsError && failure.name
}))
`
    )
    const out = JSON.parse(ok(await node([file], consumer), "node node-entry.mjs"))
    assert.deepStrictEqual(out, {
      sameClass: true,
      transport: ["node:http"],
      delivered: true,
      received: ["from_node_entry"],
      validation: "event",
      failure: "AnalyticsError"
    })
    // Effect is inlined: the bundle imports only Node's modules and its own chunks.
    const bundle = join(installed, "dist", "bundle")
    for (const chunk of ["node.js", "transport.js", "nodeHttpClient.js"]) {
      const source = readFileSync(join(bundle, chunk), "utf8")
      const specifiers = [...source.matchAll(/(?:from|import)\s*\(?\s*["']([^"']+)["']/g)].map(([, s]) => s!)
      assert.deepStrictEqual(specifiers.filter((s) => !s.startsWith("node:") && !s.startsWith("./")), [], chunk)
    }
  })

  it("require(): the class itself, { Analytics, Context, ValidationError }, and delivery", async () => {
    const file = script(
      "cjs.cjs",
      `const { createServer } = require("node:http")
const Analytics = require("${pkg.name}")
const { Analytics: Named, default: Default, AnalyticsError, Context, ValidationError } = require("${pkg.name}")
const AnalyticsClient = require("${pkg.name}/AnalyticsClient")
const received = []
const server = createServer((req, res) => {
  const chunks = []
  req.on("data", (chunk) => chunks.push(chunk))
  req.on("end", () => {
    if (req.url !== "/v1/batch") return res.writeHead(404).end()
    received.push(...JSON.parse(Buffer.concat(chunks).toString()).batch)
    res.writeHead(200).end("{}")
  })
})
server.listen(0, "127.0.0.1", async () => {
  const analytics = new Analytics({ writeKey: "wk", host: "http://127.0.0.1:" + server.address().port })
  let thrown
  try {
    analytics.identify({})
  } catch (error) {
    thrown = error
  }
  const failing = new Analytics({ writeKey: "wk", host: "http://127.0.0.1:" + server.address().port, path: "/v1/missing" })
  failing.track({ userId: "u1", event: "e" }, (err) => {
    console.log(JSON.stringify({ analyticsError: err instanceof AnalyticsError, status: err.reason.status }))
  })
  await failing.closeAndFlush()
  analytics.track({ userId: "u1", event: "from_require" }, (err, ctx) => {
    console.log(JSON.stringify({
      isClass: typeof Analytics === "function",
      named: Named === Analytics,
      default: Default === Analytics,
      context: ctx instanceof Context,
      validation: thrown instanceof ValidationError,
      effectModules: typeof AnalyticsClient.layer,
      delivered: err === undefined
    }))
  })
  await analytics.closeAndFlush()
  console.log(JSON.stringify({ received: received.map((m) => m.event) }))
  server.close()
})
`
    )
    const lines = ok(await node([file], consumer), "node cjs.cjs").trim().split("\n").map((line) => JSON.parse(line))
    assert.deepStrictEqual(lines, [
      { analyticsError: true, status: 404 },
      {
        isClass: true,
        named: true,
        default: true,
        context: true,
        validation: true,
        effectModules: "function",
        delivered: true
      },
      { received: ["from_require"] }
    ])
  })

  it("the Effect API delivers with effect's own FetchHttpClient", async () => {
    const file = script(
      "effect.mjs",
      `${loopback}
import { AnalyticsClient } from "${pkg.name}"
import { Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"

await Effect.runPromise(
  Effect.gen(function*() {
    const analytics = yield* AnalyticsClient.AnalyticsClient
    yield* analytics.track({ userId: "u1", event: "from_effect" })
  }).pipe(Effect.provide(AnalyticsClient.layer({ writeKey: "wk", host }).pipe(Layer.provide(FetchHttpClient.layer))))
)
server.close()
console.log(JSON.stringify(received.map((m) => m.event)))
`
    )
    assert.deepStrictEqual(JSON.parse(ok(await node([file], consumer), "node effect.mjs")), ["from_effect"])
  })

  it("the cdp-analytics command: installed in node_modules/.bin, it imports a file with nothing but Node", async () => {
    const bin = join(consumer, "node_modules", ".bin", "cdp-analytics")
    assert.isTrue(existsSync(bin), "node_modules/.bin/cdp-analytics")
    const help = ok(await run(bin, ["--help"], consumer), "cdp-analytics --help")
    assert.include(help, "import")
    const events = [
      { type: "identify", userId: "u1", traits: { plan: "pro" }, timestamp: "2024-01-01T00:00:00.000Z" },
      { type: "track", userId: "u1", event: "Signed Up", timestamp: "2024-01-01T00:00:01.000Z" }
    ]
    writeFileSync(join(consumer, "events.ndjson"), events.map((event) => `${JSON.stringify(event)}\n`).join(""))
    const file = script(
      "import-cli.mjs",
      `${loopback}
import { execFile } from "node:child_process"
execFile(${JSON.stringify(bin)}, ["import", "--host", host, "--json", "events.ndjson"], {
  env: { ...process.env, CUSTOMERIO_WRITE_KEY: "wk_bin" }
}, (error, stdout, stderr) => {
  console.log(JSON.stringify({ code: error?.code ?? 0, summary: JSON.parse(stdout), stderr, received }))
  server.close()
})
`
    )
    const out = JSON.parse(ok(await node([file], consumer), "node import-cli.mjs"))
    assert.strictEqual(out.code, 0, out.stderr)
    assert.strictEqual(out.summary.files[0].delivered, 2)
    assert.deepStrictEqual(out.received.map((m: { type: string }) => m.type), ["identify", "track"])
  })

  it("the collector needs the optional peer, and says so", async () => {
    const file = script("collector.mjs", `await import("${pkg.name}/Collector")`)
    const result = await node([file], consumer)
    assert.notStrictEqual(result.code, 0)
    assert.include(result.stderr, "@effect/platform-node")
  })

  it("cdp-analytics collector, without the optional peer, says what to install (import works without it, above)", async () => {
    const bin = join(consumer, "node_modules", ".bin", "cdp-analytics")
    const result = await run(bin, ["collector", "--port", "0"], consumer)
    assert.strictEqual(result.code, 1, result.stderr)
    assert.include(result.stderr, "npm install @effect/platform-node")
    assert.strictEqual(result.stdout, "")
  })

  it("the root and the Effect API reach no node: module and no optional peer (the built module graph)", () => {
    const dist = join(installed, "dist")
    const reach = (entry: string) => {
      const seen = new Set<string>()
      const external = new Set<string>()
      const visit = (file: string) => {
        if (seen.has(file)) return
        seen.add(file)
        const source = readFileSync(file, "utf8")
        // Static imports and re-exports only: a dynamic import() is loaded when it runs, not with the module.
        for (const [, specifier] of source.matchAll(/^(?:import|export)\b[^"']*?from\s*["']([^"']+)["']/gm)) {
          if (specifier.startsWith(".")) visit(resolvePath(dirname(file), specifier))
          else external.add(specifier)
        }
        for (const [, specifier] of source.matchAll(/^import\s*["']([^"']+)["']/gm)) external.add(specifier)
      }
      visit(join(dist, entry))
      return { seen, modules: seen.size, external: [...external].filter((s) => !s.startsWith("effect")) }
    }
    for (const entry of ["index.js", "AnalyticsClient.js"]) {
      const { external, modules, seen } = reach(entry)
      assert.isAbove(modules, 5, `${entry}: the walk found the graph`)
      assert.deepStrictEqual(external, [], `${entry} reaches only effect`)
      // The PostgreSQL outbox's code is loaded by Outbox.layerSql when it is built, not with the package.
      assert.isFalse(seen.has(join(dist, "internal", "outbox", "sqlDrain.js")), `${entry} does not load the SQL outbox`)
    }
    assert.match(readFileSync(join(dist, "Outbox.js"), "utf8"), /import\("\.\/internal\/outbox\/sqlDrain\.js"\)/)
    // The one place the default transport is loaded from, by a dynamic import.
    const facade = readFileSync(join(dist, "internal", "defaultHttpClient.js"), "utf8")
    assert.match(facade, /import\("\.\/nodeHttpClient\.js"\)/)
    assert.match(readFileSync(join(dist, "Collector.js"), "utf8"), /from "@effect\/platform-node\//)
  })

  it("type-checks a file using both APIs against the shipped .d.ts", async () => {
    for (const dependency of ["typescript", "@types/node"]) {
      const link = join(consumer, "node_modules", dependency)
      mkdirSync(join(link, ".."), { recursive: true })
      if (!existsSync(link)) symlinkSync(join(root, "node_modules", dependency), link, "dir")
    }
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          lib: ["ES2023", "DOM"],
          types: ["node"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          skipLibCheck: true
        },
        include: ["consumer.ts"]
      })
    )
    script(
      "consumer.ts",
      `import Default, {
  Analytics,
  AnalyticsClient,
  AnalyticsError,
  type AnalyticsSettings,
  CallContext,
  type Callback,
  type TrackParams,
  ValidationError
} from "${pkg.name}"
import { layerTest } from "${pkg.name}/AnalyticsClient"
import { Effect, Layer } from "effect"
import { FetchHttpClient } from "effect/http"

type IsAny<T> = 0 extends 1 & T ? true : false
const notAny: [IsAny<Analytics>, IsAny<AnalyticsClient.AnalyticsClient>, IsAny<TrackParams>] = [false, false, false]

// The Promise API, written as for the original.
const settings: AnalyticsSettings = { writeKey: "wk", maxEventsInBatch: 1, httpClientLayer: FetchHttpClient.layer }
const analytics: Analytics = new Default(settings)
const params: TrackParams = { userId: "u1", event: "e", properties: { n: 1 }, timestamp: new Date() }
const callback: Callback = (err, ctx) => {
  if (err) console.log(err.reason._tag, AnalyticsError.isAnalyticsError(err))
  else console.log(ctx?.event.messageId, ctx?.failedDelivery(), ctx instanceof CallContext)
}
analytics.track(params, callback)
analytics.track(params, async () => {})
analytics.on("error", ({ code, reason, ctx }) => console.log(code, reason.message, ctx?.id))
analytics.on("http_response", (response) => console.log(response.status))
try {
  analytics.track({ userId: "u1", event: "" })
} catch (error) {
  if (error instanceof ValidationError) console.log(error.field, error.rule)
}
// @ts-expect-error a track call needs an event
analytics.track({ userId: "u1" })
// @ts-expect-error unknown options are a type error
new Analytics({ writeKey: "wk", flushAt: 1 })
await analytics.closeAndFlush({ timeout: 1000 }, (err) => console.log(err?.reason._tag))

// The Effect API.
export const program: Effect.Effect<string, AnalyticsError.AnalyticsError, AnalyticsClient.AnalyticsClient> = Effect
  .gen(function*() {
    const client = yield* AnalyticsClient.AnalyticsClient
    const sent = yield* client.track({ userId: 1, event: "e" })
    return sent.messageId
  })
export const live = AnalyticsClient.layer({ writeKey: "wk", flushInterval: "1 second" }).pipe(
  Layer.provide(FetchHttpClient.layer)
)
export const tested: Effect.Effect<string, AnalyticsError.AnalyticsError> = program.pipe(Effect.provide(layerTest))
export { notAny }
`
    )
    ok(await node([join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."], consumer), "tsc")
  })
})
