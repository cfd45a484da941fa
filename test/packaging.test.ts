/**
 * The package as users get it: `npm run build`, `npm pack`, then the tarball installed into a fresh project under
 * the OS temp folder, where native ESM, `require` and TypeScript consume it.
 *
 * No registry is needed: the tarball has no dependencies, and the peers (`effect`, `@effect/platform-node`) and
 * `@types/node` are linked from this project's node_modules after the install (npm would prune links it did not
 * make).
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
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
      { cwd, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
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
  ok(
    await npm([
      "install",
      tarball,
      "--offline",
      "--no-save",
      "--no-package-lock",
      "--legacy-peer-deps",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund"
    ], consumer),
    "npm install <tarball>"
  )
  for (const dependency of ["effect", "@effect/platform-node", "@types/node"]) {
    const link = join(consumer, "node_modules", dependency)
    mkdirSync(join(link, ".."), { recursive: true })
    symlinkSync(join(root, "node_modules", dependency), link, "dir")
  }
}, 120_000)

afterAll(() => {
  if (temp !== undefined) rmSync(temp, { recursive: true, force: true })
})

const script = (name: string, source: string) => {
  writeFileSync(join(consumer, name), source)
  return name
}

describe("the packed package", () => {
  it("ships dist (ESM + .d.ts) and the README, and no tests or examples", () => {
    const shipped = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"))
    assert.strictEqual(shipped.type, "module")
    assert.strictEqual(shipped.exports["."].types, "./dist/index.d.ts")
    for (const file of ["dist/index.js", "dist/index.d.ts", "dist/Analytics.js", "dist/AnalyticsClient.d.ts"]) {
      assert.doesNotThrow(() => readFileSync(join(installed, file)), undefined, file)
    }
    assert.throws(() => readFileSync(join(installed, "test", "packaging.test.ts")))
    assert.throws(() => readFileSync(join(installed, "examples", "demo.ts")))
  })

  it("depends at run time only on Effect's own packages, as peers", () => {
    const shipped = JSON.parse(readFileSync(join(installed, "package.json"), "utf8"))
    assert.isUndefined(shipped.dependencies)
    assert.sameMembers(Object.keys(shipped.peerDependencies), ["effect", "@effect/platform-node"])
  })

  it("works from native ESM: named and default Analytics, the Effect modules, by path too", async () => {
    const file = script(
      "esm.mjs",
      `import Default, { Analytics, AnalyticsClient, AnalyticsError, Message } from "${pkg.name}"
import * as AnalyticsClientByPath from "${pkg.name}/AnalyticsClient"
import * as Collector from "${pkg.name}/Collector"
import { Effect } from "effect"

const collector = await Collector.start({ writeKey: "wk" })
const analytics = new Default({ writeKey: "wk", host: collector.url })
const delivered = new Promise((resolve) => analytics.track({ userId: "u1", event: "from_esm" }, resolve))
await analytics.closeAndFlush()
const err = await delivered
const recorded = await Effect.runPromise(
  Effect.gen(function*() {
    const client = yield* AnalyticsClientByPath.AnalyticsClient
    return yield* client.identify({ userId: 7 })
  }).pipe(Effect.provide(AnalyticsClient.layerTest))
)
let internal = "exported"
try {
  await import("${pkg.name}/internal/engine")
} catch (error) {
  internal = error.code
}
console.log(JSON.stringify({
  sameClass: Default === Analytics,
  delivered: err === undefined,
  received: collector.messages().map((m) => m.event),
  samePath: AnalyticsClientByPath.layerTest === AnalyticsClient.layerTest,
  recordedUserId: recorded.userId,
  guard: typeof AnalyticsError.isAnalyticsError,
  messageLimit: Message.MAX_MESSAGE_BYTES,
  internal
}))
await collector.close()
`
    )
    const out = JSON.parse(ok(await node([file], consumer), "node esm.mjs"))
    assert.deepStrictEqual(out, {
      sameClass: true,
      delivered: true,
      received: ["from_esm"],
      samePath: true,
      recordedUserId: "7",
      guard: "function",
      messageLimit: 32 * 1024,
      internal: "ERR_PACKAGE_PATH_NOT_EXPORTED"
    })
  })

  it("works from require() on Node 22: the class itself, { Analytics }, and the Effect modules by path", async () => {
    const file = script(
      "cjs.cjs",
      `const Analytics = require("${pkg.name}")
const { Analytics: Named, default: Default } = require("${pkg.name}")
// The root's require() is the class, so CommonJS reaches the Effect modules by path.
const AnalyticsClient = require("${pkg.name}/AnalyticsClient")
const analytics = new Analytics({ writeKey: "wk", disable: true })
analytics.track({ userId: "u1", event: "e" }, (err) => {
  console.log(JSON.stringify({
    isClass: typeof Analytics === "function",
    named: Named === Analytics,
    default: Default === Analytics,
    effectModules: typeof AnalyticsClient.layer,
    delivered: err === undefined
  }))
})
analytics.closeAndFlush()
`
    )
    const out = JSON.parse(ok(await node([file], consumer), "node cjs.cjs"))
    assert.deepStrictEqual(out, {
      isClass: true,
      named: true,
      default: true,
      effectModules: "function",
      delivered: true
    })
  })

  it("type-checks a file using both APIs against the shipped .d.ts", async () => {
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2023",
          lib: ["ES2023"],
          types: ["node"],
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          exactOptionalPropertyTypes: true,
          noEmit: true,
          // Effect's own .d.ts need the DOM lib; ours are checked through their use below (an `any` fails).
          skipLibCheck: true
        },
        include: ["consumer.ts"]
      })
    )
    script(
      "consumer.ts",
      `import { NodeHttpClient } from "@effect/platform-node"
import Default, {
  Analytics,
  AnalyticsClient,
  AnalyticsError,
  type AnalyticsSettings,
  type Callback,
  type TrackParams
} from "${pkg.name}"
import { layerTest } from "${pkg.name}/AnalyticsClient"
import { Effect, Layer } from "effect"

type IsAny<T> = 0 extends 1 & T ? true : false
const notAny: [IsAny<Analytics>, IsAny<AnalyticsClient.AnalyticsClient>, IsAny<TrackParams>] = [false, false, false]

// The Promise API, written as for the original.
const settings: AnalyticsSettings = { writeKey: "wk", maxEventsInBatch: 1, httpClientLayer: NodeHttpClient.layerUndici }
const analytics: Analytics = new Default(settings)
const params: TrackParams = { userId: "u1", event: "e", properties: { n: 1 }, timestamp: new Date() }
const callback: Callback = (err, ctx) => {
  if (err) console.log(err.reason._tag, AnalyticsError.isAnalyticsError(err))
  else console.log(ctx?.event.messageId, ctx?.failedDelivery())
}
analytics.track(params, callback)
analytics.on("error", ({ code, reason }) => console.log(code, reason.message))
analytics.on("http_response", (response) => console.log(response.status))
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
  Layer.provide(NodeHttpClient.layerUndici)
)
export const tested: Effect.Effect<string, AnalyticsError.AnalyticsError> = program.pipe(Effect.provide(layerTest))
export { notAny }
`
    )
    const tsc = await node([join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "."], consumer)
    ok(tsc, "tsc")
  })
})
