/**
 * `npm run bench:coldstart`: what importing the package costs a fresh process (a serverless cold start), next to
 * `@customerio/cdp-analytics-node`. Each figure is the median of `--runs` fresh processes (default 7): wall and CPU
 * time of `await import(...)` and of constructing a client and making one call, the RSS after, and how many modules
 * were loaded (counted in a separate run, since counting slows loading).
 *
 * It measures the built package (`dist/`, rebuilt first), as users load it.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../", import.meta.url))
const runsAt = process.argv.indexOf("--runs")
const runs = runsAt === -1 ? 7 : Number(process.argv[runsAt + 1])

interface Target {
  readonly label: string
  readonly specifier: string
  /** Constructs a client and makes one call (nothing is sent: the host does not answer and nobody waits). */
  readonly use: string
}

const targets: ReadonlyArray<Target> = [
  {
    label: "cdp-analytics-effect (root)",
    specifier: new URL("dist/index.js", `file://${root}`).href,
    use:
      "const a = new m.Analytics({ writeKey: 'wk', host: 'http://127.0.0.1:9' }); a.track({ userId: 'u', event: 'e' })"
  },
  {
    label: "cdp-analytics-effect/AnalyticsClient",
    specifier: new URL("dist/AnalyticsClient.js", `file://${root}`).href,
    use: "void m.layer"
  },
  {
    label: "@customerio/cdp-analytics-node",
    specifier: "@customerio/cdp-analytics-node",
    use:
      "const a = new m.Analytics({ writeKey: 'wk', host: 'http://127.0.0.1:9' }); a.track({ userId: 'u', event: 'e' })"
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

// The npm that runs this script (`npm run` sets npm_execpath), on the same Node; else the one on the PATH.
const npm = process.env.npm_execpath
if (npm?.endsWith(".js")) execFileSync(process.execPath, [npm, "run", "build"], { cwd: root, stdio: "ignore" })
else execFileSync("npm", ["run", "build"], { cwd: root, stdio: "ignore" })

console.log(`# cold start, medians of ${runs} fresh processes, Node ${process.version}\n`)
console.log("| import of | import ms | import CPU ms | + client and one call ms | CPU ms | RSS MB | modules |")
console.log("|---|---:|---:|---:|---:|---:|---:|")
for (const target of targets) {
  const samples = Array.from({ length: runs }, () => sample(target, false))
  const modules = sample(target, true).modules
  const pick = (key: string) => median(samples.map((s) => s[key]))
  console.log(
    `| ${target.label} | ${pick("importMs").toFixed(0)} | ${pick("importCpuMs").toFixed(0)} | ${
      pick("useMs").toFixed(0)
    } | ${pick("useCpuMs").toFixed(0)} | ${pick("rssMb").toFixed(0)} | ${modules} |`
  )
}
