/**
 * `cdp-analytics import` as users run it: `src/bin.ts` in a child process, against a real HTTP server on 127.0.0.1,
 * killed with SIGKILL at seeded random points and resumed, stopped with SIGINT, fed on standard input.
 */
import { assert, describe, it } from "@effect/vitest"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createServer, type Server } from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { messageIdOf } from "../../src/internal/cli/importer.ts"

const bin = fileURLToPath(new URL("../../src/bin.ts", import.meta.url))

const at = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString()

const makeFile = (lines: number) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cli-process-"))
  const texts = Array.from({ length: lines }, (_, i) =>
    JSON.stringify({
      type: "track",
      userId: `u${i % 100}`,
      event: "Order Completed",
      properties: { n: i + 1 },
      timestamp: at(i)
    }))
  const file = path.join(dir, "events.ndjson")
  fs.writeFileSync(file, texts.map((text) => `${text}\n`).join(""))
  return { file, ids: texts.map((text, i) => messageIdOf(i + 1, text)) }
}

/**
 * A Pipelines endpoint that counts a message delivered only when it answers 200. `onRequest` runs before the answer
 * (a test kills the importer there: that request is then not delivered, as when a process dies mid-request).
 */
const startApi = async (onRequest: (delivered: number) => void = () => {}) => {
  const delivered: Array<string> = []
  const server: Server = createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      onRequest(delivered.length)
      if (res.destroyed || req.socket.destroyed) return
      const { batch } = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { batch: Array<{ messageId: string }> }
      for (const message of batch) delivered.push(message.messageId)
      res.writeHead(200, { "content-type": "application/json" }).end("{}")
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as AddressInfo
  return {
    host: `http://127.0.0.1:${port}`,
    delivered,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

const start = (args: ReadonlyArray<string>, input?: string): { child: ChildProcess; exited: Promise<Exited> } => {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, CUSTOMERIO_WRITE_KEY: "wk_process" },
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.on("data", (chunk) => stdout += chunk)
  child.stderr!.on("data", (chunk) => stderr += chunk)
  if (input !== undefined) child.stdin!.end(input)
  else child.stdin!.end()
  const exited = new Promise<Exited>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr }))
  )
  return { child, exited }
}

/** A seeded generator (mulberry32): the kill points are random, and the same on every run. */
const random = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

const readCheckpoint = (file: string): { lines: number } =>
  fs.existsSync(`${file}.checkpoint`) ? JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8")) : { lines: 0 }

describe("cdp-analytics import in a process", () => {
  it(
    "killed with SIGKILL at random points, then resumed: every line delivered, only unconfirmed ones re-sent",
    async () => {
      const lines = 20_000
      const { file, ids } = makeFile(lines)
      const lineOf = new Map(ids.map((id, i) => [id, i + 1]))
      const draw = random(20261201)
      let child: ChildProcess | undefined
      let killAt = Infinity
      let killed: { checkpoint: number; delivered: number } | undefined
      const api = await startApi((delivered) => {
        if (child === undefined || killed !== undefined || delivered < killAt) return
        // What the next run resumes from is on disk now: read it, then kill.
        killed = { checkpoint: readCheckpoint(file).lines, delivered }
        child.kill("SIGKILL")
      })
      const args = ["import", "--host", api.host, "--events-per-request", "50", "--concurrency", "4", file]
      try {
        const kills: Array<{ checkpoint: number; delivered: number }> = []
        for (let run = 0; run < 8; run++) {
          killed = undefined
          // Kill points spread over the file; the last run goes to the end.
          killAt = run < 4 ? api.delivered.length + Math.floor(1_000 + draw() * 3_000) : Infinity
          const started = start(args)
          child = started.child
          const exit = await started.exited
          if (killed === undefined) {
            assert.strictEqual(exit.code, 0, exit.stderr)
            break
          }
          assert.strictEqual(exit.signal, "SIGKILL")
          kills.push(killed)
        }
        assert.strictEqual(kills.length, 4)
        // Every line arrived, with the id derived from it.
        const distinct = new Set(api.delivered)
        assert.strictEqual(distinct.size, lines)
        for (const id of distinct) assert.isTrue(lineOf.has(id), `unknown id ${id}`)
        // A line is re-sent only if it was delivered after the checkpoint the next run resumed from.
        const seen = new Set<string>()
        let run = 0
        for (const [index, id] of api.delivered.entries()) {
          while (run < kills.length && index >= kills[run]!.delivered) run++
          if (seen.has(id)) {
            const before = kills[run - 1]
            assert.isDefined(before, `line ${lineOf.get(id)} sent twice in one run`)
            assert.isAbove(lineOf.get(id)!, before!.checkpoint, `line ${lineOf.get(id)} was before the checkpoint`)
          }
          seen.add(id)
        }
        const duplicates = api.delivered.length - distinct.size
        // Bounded by what a run sends in 100 ms plus its requests in flight, far below a re-send of the file.
        assert.isBelow(duplicates, 4 * 5_000)
      } finally {
        await api.close()
      }
    },
    120_000
  )

  it(
    "SIGINT lets the requests in flight finish, writes the checkpoint and exits 130; the same command resumes",
    async () => {
      const lines = 20_000
      const { file, ids } = makeFile(lines)
      let child: ChildProcess | undefined
      let interrupted = false
      const api = await startApi((delivered) => {
        if (child !== undefined && !interrupted && delivered >= 2_000) {
          interrupted = true
          child.kill("SIGINT")
        }
      })
      try {
        const args = ["import", "--host", api.host, file]
        const first = start(args)
        child = first.child
        const stopped = await first.exited
        assert.strictEqual(stopped.code, 130, stopped.stderr)
        assert.match(stopped.stdout, /Stopped: SIGINT/)
        assert.match(stopped.stderr, /SIGINT: stopping/)
        const checkpoint = readCheckpoint(file)
        assert.isBelow(checkpoint.lines, lines)
        // Everything before the checkpoint was delivered.
        const delivered = new Set(api.delivered)
        for (const id of ids.slice(0, checkpoint.lines)) assert.isTrue(delivered.has(id))
        const second = await start(args).exited
        assert.strictEqual(second.code, 0, second.stderr)
        assert.match(second.stdout, /resumed after line/)
        assert.deepStrictEqual(new Set(api.delivered), new Set(ids))
      } finally {
        await api.close()
      }
    },
    60_000
  )

  it("reads standard input with -", async () => {
    const { file, ids } = makeFile(500)
    const api = await startApi()
    try {
      const ran = await start(["import", "--host", api.host, "-"], fs.readFileSync(file, "utf8")).exited
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.deepStrictEqual(api.delivered, ids)
      assert.match(ran.stdout, /Imported -: 500 lines/)
    } finally {
      await api.close()
    }
  }, 30_000)
})
