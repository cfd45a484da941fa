/**
 * `npm run bench:import` (and the `import` scenario of `npm run bench`): `cdp-analytics import` streaming a generated
 * file of calls (1 M lines by default) to a server on loopback, each in its own process: the importer is the built
 * `dist/bin.js` (`npm run build` first), as users run it, the server the local collector (`Collector.start`, which checks every message as the
 * API does) or the lean sink of the main benchmark. It prints events/s (the program's own figure: delivered events
 * over its run, start-up excluded), the wall time with start-up, and the importer's peak RSS.
 *
 * Options: --lines N (default 1000000), --runs N (median of N, default 1), --servers collector,sink.
 */
import { type ChildProcess, fork, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as ColdStart from "./coldstart.ts"

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url))

export type Server = "collector" | "sink"

export interface ImportRun {
  readonly server: Server
  readonly lines: number
  readonly delivered: number
  readonly eventsPerSecond: number
  readonly wallSeconds: number
  readonly peakRssMb: number
  readonly exitCode: number
}

/** Lines as a backfill has them: tracks with properties, identifies with traits, pages; every one with its time. */
export const generate = (file: string, lines: number): void => {
  const fd = fs.openSync(file, "w")
  const start = Date.UTC(2025, 0, 1)
  let chunk = ""
  for (let i = 0; i < lines; i++) {
    const userId = `user-${i % 50_000}`
    const timestamp = new Date(start + i * 1000).toISOString()
    const call = i % 10 === 0
      ? {
        type: "identify",
        userId,
        traits: { email: `${userId}@example.com`, plan: i % 3 === 0 ? "pro" : "free" },
        timestamp
      }
      : i % 10 === 1
      ? {
        type: "page",
        userId,
        name: "Pricing",
        properties: { path: "/pricing", referrer: "https://example.com" },
        timestamp
      }
      : {
        type: "track",
        userId,
        event: "Order Completed",
        properties: {
          orderId: `o-${i}`,
          revenue: (i % 1000) / 10,
          currency: "USD",
          items: [{ sku: `sku-${i % 97}`, qty: 1 + (i % 3) }]
        },
        timestamp
      }
    chunk += `${JSON.stringify(call)}\n`
    if (chunk.length > 1 << 20) {
      fs.writeSync(fd, chunk)
      chunk = ""
    }
  }
  fs.writeSync(fd, chunk)
  fs.closeSync(fd)
}

const startServer = (server: Server): Promise<{ child: ChildProcess; url: string }> =>
  new Promise((resolve, reject) => {
    const child = fork(here(server === "collector" ? "./collector.ts" : "./sink.ts"), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    child.once("message", (message: { url: string }) => resolve({ child, url: message.url }))
    child.once("error", reject)
  })

const stopServer = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

const importOnce = (file: string, url: string): Promise<Omit<ImportRun, "server" | "lines">> =>
  new Promise((resolve, reject) => {
    fs.rmSync(`${file}.checkpoint`, { force: true })
    const started = performance.now()
    const child = spawn(
      process.execPath,
      ["--import", here("./peak-rss.mjs"), here("../../dist/bin.js"), "import", "--json", "--host", url, file],
      { env: { ...process.env, CUSTOMERIO_WRITE_KEY: "wk_bench" }, stdio: ["ignore", "pipe", "pipe"] }
    )
    let stdout = ""
    let stderr = ""
    child.stdout!.on("data", (chunk) => stdout += chunk)
    child.stderr!.on("data", (chunk) => stderr += chunk)
    child.on("error", reject)
    child.on("exit", (code) => {
      const wallSeconds = (performance.now() - started) / 1000
      const rss = /peak-rss-bytes (\d+)/.exec(stderr)
      try {
        const summary = JSON.parse(stdout)
        const delivered = summary.files[0].delivered as number
        resolve({
          delivered,
          eventsPerSecond: delivered / summary.elapsedSeconds,
          wallSeconds,
          peakRssMb: rss === null ? Number.NaN : Number(rss[1]) / 1024 ** 2,
          exitCode: code ?? -1
        })
      } catch {
        reject(new Error(`the import did not finish (exit ${code}):\n${stdout}\n${stderr.slice(-2000)}`))
      }
    })
  })

const median = (values: ReadonlyArray<number>) => values.toSorted((a, b) => a - b)[Math.floor(values.length / 2)]!

/** Runs the import `runs` times against each server; each row is the median run by events/s. */
export const measure = async (
  options: { readonly lines: number; readonly runs: number; readonly servers: ReadonlyArray<Server> }
): Promise<Array<ImportRun>> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bench-import-"))
  const file = path.join(dir, "events.ndjson")
  try {
    generate(file, options.lines)
    const rows: Array<ImportRun> = []
    for (const server of options.servers) {
      const runs: Array<ImportRun> = []
      for (let i = 0; i < options.runs; i++) {
        // A fresh server per run: the collector keeps what it received.
        const { child, url } = await startServer(server)
        try {
          runs.push({ server, lines: options.lines, ...await importOnce(file, url) })
        } finally {
          await stopServer(child)
        }
      }
      const middle = median(runs.map((r) => r.eventsPerSecond))
      rows.push({
        ...runs.find((r) => r.eventsPerSecond === middle)!,
        peakRssMb: Math.max(...runs.map((r) => r.peakRssMb))
      })
    }
    return rows
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits })

export const table = (rows: ReadonlyArray<ImportRun>): string =>
  [
    "| server | lines | delivered | events/s | wall (s, with start-up) | importer peak RSS (MB) |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows.map((r) =>
      `| ${r.server === "collector" ? "local collector" : "lean sink"} | ${fmt(r.lines)} | ${fmt(r.delivered)} | ${
        fmt(r.eventsPerSecond)
      } | ${fmt(r.wallSeconds, 1)} | ${fmt(r.peakRssMb)} |`
    )
  ].join("\n")

/** Issue 12's targets, judged on the collector's row. */
export const targets = (rows: ReadonlyArray<ImportRun>) => {
  const collector = rows.find((r) => r.server === "collector")
  if (collector === undefined) return []
  return [
    {
      target: "import: every line delivered",
      value: `${fmt(collector.delivered)} of ${fmt(collector.lines)}`,
      ok: collector.delivered === collector.lines && collector.exitCode === 0
    },
    {
      target: "import from a file to the local collector: ≥ 50,000 events/s",
      value: fmt(collector.eventsPerSecond),
      ok: collector.eventsPerSecond >= 50_000
    },
    {
      target: "import: importer peak RSS ≤ 200 MB",
      value: `${fmt(collector.peakRssMb)} MB`,
      ok: collector.peakRssMb <= 200
    }
  ]
}

if (import.meta.main) {
  const args = process.argv.slice(2)
  const option = (name: string) => {
    const at = args.indexOf(`--${name}`)
    return at === -1 ? undefined : args[at + 1]
  }
  ColdStart.build()
  const rows = await measure({
    lines: Number(option("lines") ?? 1_000_000),
    runs: Number(option("runs") ?? 1),
    servers: (option("servers") ?? "collector,sink").split(",") as Array<Server>
  })
  console.log(`cdp-analytics import, Node ${process.version}, ${os.cpus().length} CPUs\n`)
  console.log(table(rows))
  const checks = targets(rows)
  console.log("\nTargets:")
  for (const check of checks) console.log(`  ${check.ok ? "ok  " : "MISS"}  ${check.target}: ${check.value}`)
}
