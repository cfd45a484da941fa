/**
 * `cdp-analytics import`, run in-process: the whole program (`run`) with a scripted API and the `TestClock`. Reading
 * the file is real I/O; every wait of the client (flush, backoff, Retry-After) and the 100 ms checkpoint ticker run
 * on the TestClock, which `drive` advances until the program exits.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { TestClock } from "effect/testing"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { gzipSync } from "node:zlib"
import { exitCodes, Io, run } from "../../src/internal/cli/command.ts"
import { messageIdOf } from "../../src/internal/cli/importer.ts"
import * as MockHttp from "../utils/MockHttp.ts"

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), "cli-import-"))

const at = (n: number) => new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString()

const track = (n: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    type: "track",
    userId: `u${n}`,
    event: "Order Completed",
    properties: { n },
    timestamp: at(n),
    ...extra
  })

const writeLines = (dir: string, name: string, lines: ReadonlyArray<string>) => {
  const file = path.join(dir, name)
  fs.writeFileSync(file, lines.map((line) => `${line}\n`).join(""))
  return file
}

const validLines = (count: number) => Array.from({ length: count }, (_, i) => track(i + 1))

interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
  readonly requests: ReadonlyArray<MockHttp.RecordedRequest>
  readonly messages: Array<any>
}

/** A turn of Node's event loop: the file's reads complete in it. */
const ioTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))

/**
 * Runs the program to its exit, advancing the TestClock 100 ms per turn of the event loop. `signal` completes when
 * the program should be told to stop.
 */
const cli = (
  args: ReadonlyArray<string>,
  options: { readonly handler?: MockHttp.Handler; readonly signal?: Effect.Effect<"SIGINT" | "SIGTERM"> } = {}
) =>
  Effect.gen(function*() {
    const http = yield* MockHttp.make(options.handler)
    const stdout: Array<string> = []
    const stderr: Array<string> = []
    const io: Io["Service"] = {
      stdout: { write: (text) => void stdout.push(text) },
      stderr: { write: (text) => void stderr.push(text), isTTY: false, columns: undefined },
      signal: options.signal ?? Effect.never
    }
    const fiber = yield* run(args).pipe(Effect.provideService(Io, io), Effect.provide(http.layer), Effect.forkChild)
    while (fiber.pollUnsafe() === undefined) {
      yield* ioTurn
      yield* TestClock.adjust(100)
    }
    const code = yield* Fiber.join(fiber)
    return {
      code,
      stdout: stdout.join(""),
      stderr: stderr.join(""),
      requests: http.requests,
      messages: MockHttp.messages(http.requests)
    } satisfies Ran
  })

const importing = (file: string, ...flags: Array<string>) => ["import", "--write-key", "wk_test", ...flags, file]

describe("cdp-analytics import", () => {
  it.effect("delivers every line, keeps the timestamps, and derives each messageId from the line", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const lines = validLines(250)
      const file = writeLines(dir, "events.ndjson", lines)
      const ran = yield* cli(importing(file))
      assert.strictEqual(ran.code, exitCodes.ok, ran.stderr)
      assert.strictEqual(ran.messages.length, 250)
      assert.deepStrictEqual(
        ran.messages.map((m) => m.messageId),
        lines.map((line, i) => messageIdOf(i + 1, line))
      )
      assert.deepStrictEqual(ran.messages.map((m) => m.timestamp), lines.map((_, i) => at(i + 1)))
      assert.match(ran.messages[0].messageId, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      // 100 events per request by default
      assert.deepStrictEqual(ran.requests.map((r) => r.body.batch.length), [100, 100, 50])
      assert.match(ran.stdout, /delivered: 250\n/)
      const checkpoint = JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8"))
      assert.strictEqual(checkpoint.offset, fs.statSync(file).size)
      assert.strictEqual(checkpoint.lines, 250)
    }))

  it.effect("keeps a messageId the line gives", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "ids.ndjson", [track(1, { messageId: "given-1" }), track(2)])
      const ran = yield* cli(importing(file))
      assert.strictEqual(ran.code, exitCodes.ok)
      assert.strictEqual(ran.messages[0].messageId, "given-1")
      assert.notStrictEqual(ran.messages[1].messageId, undefined)
    }))

  it.effect("reports each bad line with its number and reason, skips it, and exits 1", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "bad.ndjson", [
        track(1),
        "{not json",
        JSON.stringify({ type: "purchase", userId: "u", timestamp: at(3) }),
        JSON.stringify({ type: "track", userId: "u", timestamp: at(4) }),
        JSON.stringify({ type: "track", userId: "u", event: "No Time" }),
        "[1, 2]",
        "",
        track(8)
      ])
      const ran = yield* cli(importing(file))
      assert.strictEqual(ran.code, exitCodes.incomplete)
      assert.deepStrictEqual(ran.messages.map((m) => m.userId), ["u1", "u8"])
      assert.match(ran.stderr, /bad\.ndjson:2: rejected: not JSON/)
      assert.match(ran.stderr, /bad\.ndjson:3: rejected: "type" must be one of "identify", "track"/)
      assert.match(ran.stderr, /bad\.ndjson:4: rejected: .*event/)
      assert.match(ran.stderr, /bad\.ndjson:5: rejected: "timestamp" is missing/)
      assert.match(ran.stderr, /bad\.ndjson:6: rejected: a line must be a JSON object/)
      assert.notMatch(ran.stderr, /bad\.ndjson:7:/)
      assert.match(ran.stdout, /rejected: 5 /)
      assert.match(ran.stdout, /blank lines: 1/)
      // Rejected lines have their outcome: the checkpoint passes them.
      assert.strictEqual(JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8")).lines, 8)
    }))

  it.effect("--allow-missing-timestamp sends a line without one, stamped when sent", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "untimed.ndjson", [JSON.stringify({ type: "identify", userId: "u1" })])
      const ran = yield* cli(importing(file, "--allow-missing-timestamp"))
      assert.strictEqual(ran.code, exitCodes.ok, ran.stderr)
      assert.strictEqual(ran.messages.length, 1)
      assert.strictEqual(typeof ran.messages[0].timestamp, "string")
    }))

  it.effect("reads a .gz file while it streams, and resumes it from its checkpoint", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const lines = validLines(120)
      const file = path.join(dir, "events.ndjson.gz")
      fs.writeFileSync(file, gzipSync(lines.map((line) => `${line}\n`).join("")))
      const first = yield* cli(importing(file))
      assert.strictEqual(first.code, exitCodes.ok, first.stderr)
      assert.strictEqual(first.messages.length, 120)
      // Done: running it again sends nothing.
      const again = yield* cli(importing(file))
      assert.strictEqual(again.code, exitCodes.ok)
      assert.strictEqual(again.messages.length, 0)
      assert.match(again.stdout, /resumed after line 120/)
    }))

  it.effect("resumes after the last line with an outcome, with the same messageIds", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const lines = validLines(10)
      const file = writeLines(dir, "grow.ndjson", lines.slice(0, 6))
      const first = yield* cli(importing(file))
      assert.strictEqual(first.messages.length, 6)
      // The file grew (a log still being written): the run goes on after line 6.
      fs.appendFileSync(file, lines.slice(6).map((line) => `${line}\n`).join(""))
      const second = yield* cli(importing(file))
      assert.strictEqual(second.code, exitCodes.ok, second.stderr)
      assert.deepStrictEqual(
        second.messages.map((m) => m.messageId),
        lines.slice(6).map((line, i) => messageIdOf(i + 7, line))
      )
    }))

  it.effect("refuses a checkpoint that does not match its file, with a clear message", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = writeLines(dir, "changed.ndjson", validLines(5))
      assert.strictEqual((yield* cli(importing(file))).code, exitCodes.ok)
      // Same size, different content before the checkpoint.
      fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace("u1", "x1"))
      const changed = yield* cli(importing(file))
      assert.strictEqual(changed.code, exitCodes.usage)
      assert.strictEqual(changed.messages.length, 0)
      assert.match(changed.stderr, /are not the ones the checkpoint was made for/)
      // Shorter than the checkpoint says.
      fs.writeFileSync(file, `${track(1)}\n`)
      const shrunk = yield* cli(importing(file))
      assert.strictEqual(shrunk.code, exitCodes.usage)
      assert.match(shrunk.stderr, /shorter|shrank|smaller/)
    }))

  it.effect("a checkpoint refused for a later file stops there, and the summary still tells what was imported", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const first = writeLines(dir, "first.ndjson", validLines(3))
      const second = writeLines(dir, "second.ndjson", validLines(4))
      fs.writeFileSync(`${second}.checkpoint`, "{ not a checkpoint")
      const ran = yield* cli([...importing(first), second])
      assert.strictEqual(ran.code, exitCodes.usage)
      assert.strictEqual(ran.messages.length, 3)
      assert.match(ran.stderr, /error: .*second\.ndjson\.checkpoint/)
      assert.match(ran.stdout, /Imported .*first\.ndjson: 3 lines[^]*delivered: 3\n[^]*Stopped: /)
      assert.notMatch(ran.stdout, /second\.ndjson: 0 lines/)
    }))

  it.effect("refuses a checkpoint whose last line, imported without its newline, was completed since", () =>
    Effect.gen(function*() {
      const file = path.join(tmp(), "tail.ndjson")
      const last = track(2)
      // A log being written: its last line is cut short when the import reads it.
      fs.writeFileSync(file, `${track(1)}\n${last.slice(0, 20)}`)
      const first = yield* cli(importing(file))
      assert.strictEqual(first.messages.length, 1)
      assert.strictEqual(JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8")).lines, 2)
      fs.appendFileSync(file, `${last.slice(20)}\n${track(3)}\n`)
      const completed = yield* cli(importing(file))
      assert.strictEqual(completed.code, exitCodes.usage, completed.stderr)
      assert.strictEqual(completed.messages.length, 0)
      assert.match(completed.stderr, /has no line ending there/)
    }))

  it.effect("pauses for 429 and Retry-After, as the library does, and delivers everything once", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "storm.ndjson", validLines(300))
      // The first five requests are answered 429 with a Retry-After of 30 s.
      const handler: MockHttp.Handler = (_, index) =>
        Effect.succeed(index < 5 ? { status: 429, headers: { "retry-after": "30" } } : { status: 200 })
      const ran = yield* cli(importing(file, "--concurrency", "2"), { handler })
      assert.strictEqual(ran.code, exitCodes.ok, ran.stderr)
      const delivered = ran.requests.slice(5).flatMap((r) => r.body.batch.map((m: any) => m.messageId))
      assert.strictEqual(new Set(delivered).size, 300)
      assert.strictEqual(delivered.length, 300)
      assert.isTrue(ran.requests.slice(5).some((r) => r.headers["x-retry-count"] !== undefined))
    }))

  it.effect("a final failure is counted, reported, and written to the failed file with its messageId", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const lines = validLines(150)
      const file = writeLines(dir, "some-fail.ndjson", lines)
      const ran = yield* cli(importing(file), { handler: MockHttp.statuses(400) })
      assert.strictEqual(ran.code, exitCodes.incomplete)
      assert.match(ran.stdout, /failed: 100 \(written to .*some-fail\.ndjson\.failed\.ndjson/)
      const failed = fs.readFileSync(`${file}.failed.ndjson`, "utf8").trim().split("\n")
      assert.strictEqual(failed.length, 100)
      const first = JSON.parse(failed[0]!)
      assert.strictEqual(first.messageId, messageIdOf(1, lines[0]!))
      assert.strictEqual(first.type, "track")
      assert.match(ran.stderr, /some-fail\.ndjson:1: not delivered: the API answered 400/)
      // Every line has its outcome: the checkpoint is at the end.
      assert.strictEqual(JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8")).lines, 150)
    }))

  it.effect("a checkpoint that cannot be written stops the import instead of sending what a resume cannot account for", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const lines = 30_000
      const file = writeLines(dir, "events.ndjson", validLines(lines))
      // The checkpoint's folder disappears once the first request is sent: every later save fails.
      const gone = path.join(dir, "gone")
      fs.mkdirSync(gone)
      const ran = yield* cli(importing(file, "--checkpoint", path.join(gone, "run.checkpoint")), {
        handler: (_, index) => {
          if (index === 0) fs.rmSync(gone, { recursive: true })
          return Effect.succeed({ status: 200, body: "{}" })
        }
      })
      assert.strictEqual(ran.code, exitCodes.incomplete)
      assert.match(ran.stdout + ran.stderr, /cannot save the import's progress: .*ENOENT/)
      assert.isBelow(ran.messages.length, lines)
    }))

  it.effect("failed lines that cannot be written down keep every later checkpoint before them", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "unwritable.ndjson", validLines(300))
      // The failed file cannot be appended to (it is a folder), and the first request fails for good.
      fs.mkdirSync(`${file}.failed.ndjson`)
      const ran = yield* cli(importing(file), {
        handler: (_, index) => Effect.succeed(index === 0 ? { status: 400 } : { status: 200, body: "{}" })
      })
      assert.strictEqual(ran.code, exitCodes.incomplete)
      assert.match(ran.stderr, /error: cannot save the import's progress: .*EISDIR/)
      // Lines 1 to 100 are in no file: a resume must send them again, so no checkpoint passes them.
      const checkpoint = fs.existsSync(`${file}.checkpoint`)
        ? JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8"))
        : { lines: 0 }
      assert.strictEqual(checkpoint.lines, 0)
    }))

  it.effect("a refused write key stops the import; the checkpoint stays before what was not delivered", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "refused.ndjson", validLines(50))
      const ran = yield* cli(importing(file), { handler: () => Effect.succeed({ status: 401 }) })
      assert.strictEqual(ran.code, exitCodes.incomplete)
      assert.match(ran.stdout, /Stopped: .*401/)
      assert.notMatch(ran.stdout + ran.stderr, /wk_test/)
      const checkpoint = fs.existsSync(`${file}.checkpoint`)
        ? JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8"))
        : { lines: 0 }
      assert.strictEqual(checkpoint.lines, 0)
    }))

  it.effect("SIGINT stops reading, lets the requests in flight finish, and the same command resumes", () =>
    Effect.gen(function*() {
      const dir = tmp()
      // More than the queue holds (1,000): the signal comes before the file is read.
      const lines = validLines(3000)
      const file = writeLines(dir, "signal.ndjson", lines)
      const interrupted = yield* Deferred.make<"SIGINT">()
      const handler: MockHttp.Handler = (_, index) => {
        if (index === 2) Deferred.doneUnsafe(interrupted, Effect.succeed("SIGINT" as const))
        return Effect.succeed({ status: 200 })
      }
      // One SIGINT: the program waits for a second one, which never comes.
      let signals = 0
      const signal = Effect.suspend(() => signals++ === 0 ? Deferred.await(interrupted) : Effect.never)
      const first = yield* cli(importing(file, "--events-per-request", "10", "--concurrency", "1"), { handler, signal })
      assert.strictEqual(first.code, exitCodes.SIGINT)
      assert.match(first.stdout, /Stopped: SIGINT/)
      assert.isBelow(first.messages.length, 3000)
      const checkpoint = JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8"))
      assert.strictEqual(checkpoint.lines, first.messages.length)
      const second = yield* cli(importing(file))
      assert.strictEqual(second.code, exitCodes.ok, second.stderr)
      const ids = [...first.messages, ...second.messages].map((m) => m.messageId)
      assert.deepStrictEqual(ids, lines.map((line, i) => messageIdOf(i + 1, line)))
    }))

  it.effect("a checkpoint that cannot be written after SIGINT is still reported", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const file = writeLines(dir, "signal-then-disk.ndjson", validLines(3000))
      const gone = path.join(dir, "gone")
      fs.mkdirSync(gone)
      const interrupted = yield* Deferred.make<"SIGINT">()
      const handler: MockHttp.Handler = (_, index) => {
        if (index === 2) {
          fs.rmSync(gone, { recursive: true })
          Deferred.doneUnsafe(interrupted, Effect.succeed("SIGINT" as const))
        }
        return Effect.succeed({ status: 200 })
      }
      let signals = 0
      const signal = Effect.suspend(() => signals++ === 0 ? Deferred.await(interrupted) : Effect.never)
      const ran = yield* cli(
        importing(file, "--events-per-request", "10", "--concurrency", "1", "--checkpoint", path.join(gone, "x")),
        { handler, signal }
      )
      assert.strictEqual(ran.code, exitCodes.SIGINT)
      assert.match(ran.stdout, /Stopped: SIGINT/)
      assert.match(ran.stderr, /error: cannot save the import's progress: .*ENOENT/)
    }))

  it.effect("stopped while a request hangs, it waits 10 s at most, and the hung lines stay after the checkpoint", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "hung.ndjson", validLines(30))
      const stop = yield* Deferred.make<"SIGTERM">()
      const handler: MockHttp.Handler = (_, index) => {
        if (index === 0) return Effect.succeed({ status: 200 })
        Deferred.doneUnsafe(stop, Effect.succeed("SIGTERM" as const))
        return Effect.never
      }
      let signals = 0
      const signal = Effect.suspend(() => signals++ === 0 ? Deferred.await(stop) : Effect.never)
      const start = yield* TestClockNow
      const ran = yield* cli(importing(file, "--events-per-request", "10", "--concurrency", "1"), { handler, signal })
      assert.strictEqual(ran.code, exitCodes.SIGTERM)
      const waited = (yield* TestClockNow) - start
      // It gave the hung request its 10 s (the clock also moves while the file is read, so no upper bound here: that
      // the program exits at all while the request never answers is the bound).
      assert.isAtLeast(waited, 10_000)
      assert.strictEqual(JSON.parse(fs.readFileSync(`${file}.checkpoint`, "utf8")).lines, 10)
      assert.match(ran.stdout, /not sent: 20/)
    }))

  it.effect("--dry-run checks every line as the client would, sends nothing, and needs no write key", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const good = writeLines(dir, "good.ndjson", validLines(20))
      const valid = yield* cli(["import", "--dry-run", good])
      assert.strictEqual(valid.code, exitCodes.ok, valid.stderr)
      assert.strictEqual(valid.requests.length, 0)
      assert.match(valid.stdout, /Checked .*good\.ndjson: 20 lines/)
      assert.isFalse(fs.existsSync(`${good}.checkpoint`))
      const tooLarge = JSON.stringify({
        type: "track",
        userId: "u",
        event: "big",
        properties: { blob: "x".repeat(40_000) },
        timestamp: at(1)
      })
      const bad = writeLines(dir, "bad.ndjson", [
        track(1),
        tooLarge,
        JSON.stringify({ type: "alias", timestamp: at(2) })
      ])
      const invalid = yield* cli(["import", "--dry-run", bad])
      assert.strictEqual(invalid.code, exitCodes.incomplete)
      assert.match(invalid.stderr, /bad\.ndjson:2: rejected: .*32/)
      assert.match(invalid.stderr, /bad\.ndjson:3: rejected: /)
      assert.strictEqual(invalid.requests.length, 0)
    }))

  it.effect("--json prints one machine-readable summary", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "json.ndjson", [...validLines(3), "nope"])
      const ran = yield* cli(importing(file, "--json"))
      const summary = JSON.parse(ran.stdout)
      assert.strictEqual(summary.exitCode, exitCodes.incomplete)
      assert.strictEqual(summary.files[0].delivered, 3)
      assert.strictEqual(summary.files[0].rejected, 1)
    }))

  it.effect("--rate holds the import to the given events per second on the clock", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "rated.ndjson", validLines(300))
      const start = yield* TestClockNow
      const ran = yield* cli(importing(file, "--rate", "100", "--events-per-request", "10"))
      assert.strictEqual(ran.code, exitCodes.ok, ran.stderr)
      const elapsed = (yield* TestClockNow) - start
      // 300 events at 100/s take at least about 3 s of the clock (the first 100 ms are a burst). No upper bound: the
      // test's driver advances the clock on every turn of the event loop, however long reading takes.
      assert.isAtLeast(elapsed, 2_800)
    }))

  it.effect("usage errors name the problem and exit 2", () =>
    Effect.gen(function*() {
      const file = writeLines(tmp(), "u.ndjson", validLines(1))
      const noKey = yield* cli(["import", file])
      assert.strictEqual(noKey.code, exitCodes.usage)
      assert.match(noKey.stderr, /no write key: set CUSTOMERIO_WRITE_KEY/)
      const badRate = yield* cli(importing(file, "--rate", "0"))
      assert.strictEqual(badRate.code, exitCodes.usage)
      assert.match(badRate.stderr, /--rate must be a positive number/)
      const unknown = yield* cli(importing(file, "--bogus"))
      assert.strictEqual(unknown.code, exitCodes.usage)
      assert.match(unknown.stderr + unknown.stdout, /bogus/)
      const missing = yield* cli(importing(path.join(tmp(), "absent.ndjson")))
      assert.strictEqual(missing.code, exitCodes.usage)
      assert.match(missing.stderr, /cannot read .*absent\.ndjson/)
      const twoStdin = yield* cli(importing("-").concat("-"))
      assert.strictEqual(twoStdin.code, exitCodes.usage)
      // The flag is named, not the client's option behind it.
      const noConcurrency = yield* cli(importing(file, "--concurrency", "0"))
      assert.strictEqual(noConcurrency.code, exitCodes.usage)
      assert.match(noConcurrency.stderr, /--concurrency must be at least 1/)
      const noEvents = yield* cli(importing(file, "--events-per-request", "0"))
      assert.strictEqual(noEvents.code, exitCodes.usage)
      assert.match(noEvents.stderr, /--events-per-request must be at least 1/)
    }))

  it.effect("a file that cannot be read is a usage error before any file is imported", () =>
    Effect.gen(function*() {
      const dir = tmp()
      const good = writeLines(dir, "good.ndjson", validLines(5))
      const ran = yield* cli(importing(good).concat(path.join(dir, "absent.ndjson")))
      assert.strictEqual(ran.code, exitCodes.usage)
      assert.match(ran.stderr, /cannot read .*absent\.ndjson/)
      assert.strictEqual(ran.requests.length, 0)
      assert.isFalse(fs.existsSync(`${good}.checkpoint`))
    }))

  it.effect("prints help with the write key's advice", () =>
    Effect.gen(function*() {
      const ran = yield* cli(["import", "--help"])
      assert.strictEqual(ran.code, exitCodes.ok)
      assert.match(ran.stdout, /CUSTOMERIO_WRITE_KEY/)
      assert.match(ran.stdout, /--checkpoint/)
    }))
})

const TestClockNow = Effect.clockWith((clock) => Effect.succeed(clock.currentTimeMillisUnsafe()))
