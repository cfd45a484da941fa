/**
 * `npm run bench:coldstart` (and the end of `npm run bench`): what importing the package costs a fresh process (a
 * serverless cold start), next to `@customerio/cdp-analytics-node`. Each figure is the median of `--runs` fresh
 * processes (default 7): wall and CPU time of `await import(...)` and of constructing a client and making one call,
 * the RSS after, and how many modules were loaded (counted in a separate run, since counting slows loading).
 *
 * It measures the built package (`dist/`, rebuilt first), as users load it: the root (both APIs, on the
 * application's own `effect`), the Effect API alone, and `cdp-analytics-effect/node`, the Promise API bundled with
 * the parts of Effect it uses.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))

interface Target {
  readonly label: string
  readonly specifier: string
  /** Constructs a client and makes one call (nothing is sent: the host does not answer and nobody waits). */
  readonly use: string
}

const callOne =
  "const a = new m.Analytics({ writeKey: 'wk', host: 'http://127.0.0.1:9' }); a.track({ userId: 'u', event: 'e' })"

const targets: ReadonlyArray<Target> = [
  {
    label: "cdp-analytics-effect/node (bundled)",
    specifier: new URL("dist/bundle/node.js", `file://${root}`).href,
    use: callOne
  },
  {
    label: "cdp-analytics-effect (root)",
    specifier: new URL("dist/index.js", `file://${root}`).href,
    use: callOne
  },
  {
    label: "cdp-analytics-effect/AnalyticsClient",
    specifier: new URL("dist/AnalyticsClient.js", `file://${root}`).href,
    use: "void m.layer"
  },
  {
    label: "@customerio/cdp-analytics-node",
    specifier: "@customerio/cdp-analytics-node",
    use: callOne
  }
]

const probe = (target: Target, count: boolean) => `
${
  count
    ? "import { registerHooks } from 'node:module'; let modules = 0; registerHooks({ load(url, context, next) { modules++; return next(url, context) } })"
    : "const modules = undefined"
}
const start = performance.now()
const cpu = process.cpuUsage()
const m = await import(${JSON.stringify(target.specifier)})
const imported = performance.now()
const importCpu = process.cpuUsage(cpu)
${target.use}
const used = performance.now()
const usedCpu = process.cpuUsage(cpu)
console.log(JSON.stringify({
  importMs: imported - start,
  importCpuMs: (importCpu.user + importCpu.system) / 1000,
  useMs: used - start,
  useCpuMs: (usedCpu.user + usedCpu.system) / 1000,
  rssMb: process.memoryUsage().rss / 1024 / 1024,
  modules
}))
process.exit(0)
`

const sample = (target: Target, count: boolean) => {
  const result = spawnSync(process.execPath, ["--input-type=module", "-e", probe(target, count)], {
    cwd: root,
    encoding: "utf8"
  })
  if (result.status !== 0) throw new Error(`${target.label}: ${result.stderr}`)
  return JSON.parse(result.stdout.trim().split("\n").at(-1)!)
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = values.toSorted((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}

export interface ColdStart {
  readonly label: string
  readonly importMs: number
  readonly importCpuMs: number
  readonly useMs: number
  readonly useCpuMs: number
  readonly rssMb: number
  readonly modules: number
}

/** `npm run build`: `dist/`, with the bundle of `cdp-analytics-effect/node`. */
export const build = (): void => {
  // The npm that runs this script (`npm run` sets npm_execpath), on the same Node; else the one on the PATH.
  const npm = process.env.npm_execpath
  if (npm?.endsWith(".js")) execFileSync(process.execPath, [npm, "run", "build"], { cwd: root, stdio: "ignore" })
  else execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" })
}

/** Builds the package, then measures every target in `runs` fresh processes each. */
export const measure = (runs: number): Array<ColdStart> => {
  build()
  return targets.map((target) => {
    const samples = Array.from({ length: runs }, () => sample(target, false))
    const pick = (key: string) => median(samples.map((s) => s[key]))
    return {
      label: target.label,
      importMs: pick("importMs"),
      importCpuMs: pick("importCpuMs"),
      useMs: pick("useMs"),
      useCpuMs: pick("useCpuMs"),
      rssMb: pick("rssMb"),
      modules: sample(target, true).modules
    }
  })
}

export const table = (results: ReadonlyArray<ColdStart>): string =>
  [
    "| import of | import ms | import CPU ms | + client and one call ms | CPU ms | RSS MB | modules |",
    "|---|---:|---:|---:|---:|---:|---:|",
    ...results.map((r) =>
      `| ${r.label} | ${r.importMs.toFixed(0)} | ${r.importCpuMs.toFixed(0)} | ${r.useMs.toFixed(0)} | ${
        r.useCpuMs.toFixed(0)
      } | ${r.rssMb.toFixed(0)} | ${r.modules} |`
    )
  ].join("\n")

if (import.meta.main) {
  const runsAt = process.argv.indexOf("--runs")
  const runs = runsAt === -1 ? 7 : Number(process.argv[runsAt + 1])
  console.log(`# cold start, medians of ${runs} fresh processes, Node ${process.version}\n`)
  console.log(table(measure(runs)))
}
