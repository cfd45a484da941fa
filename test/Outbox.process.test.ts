/**
 * The file outbox against real crashes: child processes that track as fast as they can are killed with SIGKILL at
 * random moments (while writing, while requests are in flight, while segments are begun and deleted), then a last
 * one opens the directory and closes. Every message whose call had returned must reach the server; a message may
 * arrive twice only as a re-send, with the same messageId and the same content.
 *
 * The moments are random; what is asserted is not: it must hold wherever the kills land.
 */
import { afterEach, assert, describe, it } from "@effect/vitest"
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { type Sink, start } from "./utils/sink.ts"

const fixture = fileURLToPath(new URL("fixtures/outbox-writer.ts", import.meta.url))

const sinks: Array<Sink> = []
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.close()))
})

/** Runs a writer until it has printed `lines` messageIds, kills it with SIGKILL, and returns every id it printed. */
const writeThenKill = (host: string, dir: string, run: string, lines: number) =>
  new Promise<Array<string>>((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, host, dir, "write", run], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      if (out.split("\n").length > lines) child.kill("SIGKILL")
    })
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => stderr += chunk)
    child.on("error", reject)
    child.on("exit", (_, signal) => {
      if (signal !== "SIGKILL") return reject(new Error(`the writer exited by itself: ${stderr}`))
      // A line cut short by the kill is not an id the writer printed whole.
      resolve(out.split("\n").slice(0, -1))
    })
  })

const drain = (host: string, dir: string) =>
  new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      [fixture, host, dir, "drain", "drain"],
      { timeout: 60_000 },
      (error, stdout, stderr) => error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`))
    )
  )

describe("file outbox under SIGKILL", () => {
  it("every accepted message is delivered after restarts, and a duplicate is only a re-send", async () => {
    // A slow, uneven server: kills land while requests are in flight too.
    const server = await start(() => new Promise((resolve) => setTimeout(() => resolve(200), Math.random() * 30)))
    sinks.push(server)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "outbox-crash-"))
    const accepted: Array<string> = []
    for (let round = 0; round < 6; round++) {
      accepted.push(...await writeThenKill(server.host, dir, `r${round}`, 200 + Math.floor(Math.random() * 3_000)))
    }
    assert.strictEqual(await drain(server.host, dir), "drained\n")

    const received = server.messages()
    const byId = new Map<string, Array<unknown>>()
    for (const message of received) byId.set(message.messageId, [...(byId.get(message.messageId) ?? []), message])
    const lost = accepted.filter((id) => !byId.has(id))
    assert.deepStrictEqual(lost.slice(0, 10), [], `${lost.length} of ${accepted.length} accepted messages were lost`)
    for (const [id, copies] of byId) {
      assert.match(id, /^r\d-\d+$/, "only messages the writers made")
      // A re-send is the same message: same id, same content (its sentAt is the batch's, not the message's).
      for (const copy of copies) assert.deepStrictEqual(copy, copies[0], `the copies of ${id} differ`)
    }
    const segments = fs.readdirSync(dir).filter((name) => name.startsWith("segment-"))
    assert.deepStrictEqual(segments, [], "everything was settled, so every segment was deleted")
    assert.isFalse(fs.existsSync(path.join(dir, "LOCK")), "the last client released the lock")
  }, 120_000)
})
