/**
 * The file outbox's log on a real disk (temporary directories): records survive a reopen until acknowledged, in
 * order; a torn or damaged record is skipped and counted, never fatal; settled segments are deleted; `acks.log`
 * stays small; the lock admits one client per directory and takes over a stale one.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Disk from "../src/internal/outbox/disk.ts"
import { FileLog, type Options, OutboxInUse, type Position } from "../src/internal/outbox/fileLog.ts"
import * as Lock from "../src/internal/outbox/lock.ts"

const temporary = () => fs.mkdtempSync(path.join(os.tmpdir(), "outbox-"))

const open = (dir: string, options: Partial<Options> = {}, disk: Disk.Disk = Disk.node()) =>
  FileLog.open(disk, {
    path: dir,
    segmentBytes: 16 * 1024 * 1024,
    maxBytes: 1024 * 1024 * 1024,
    syncAlways: false,
    deadLetter: false,
    now: Date.now,
    ...options
  })

const json = (n: number) => JSON.stringify({ messageId: `m${n}`, event: `e${n}` })
const write = (log: FileLog, n: number, handOut = false) => log.append(json(n), json(n).length, handOut)
const events = (records: ReadonlyArray<{ readonly json: string }>) => records.map((r) => JSON.parse(r.json).event)
const segments = (dir: string) => fs.readdirSync(dir).filter((name) => name.startsWith("segment-")).toSorted()

describe("file outbox log", () => {
  it("replays what was not acknowledged, in order, after a reopen", () => {
    const dir = temporary()
    const log = open(dir)
    const positions: Array<Position> = []
    for (let i = 1; i <= 5; i++) positions.push(write(log, i, true).position)
    log.ack([positions[0]!, positions[2]!])
    log.close()

    const again = open(dir)
    assert.strictEqual(again.replayed, 3)
    assert.strictEqual(again.corrupt, 0)
    assert.strictEqual(again.backlog, 3)
    assert.deepStrictEqual(events(again.take(10)), ["e2", "e4", "e5"])
    again.close()
  })

  it("hands a record out at once only when nothing older waits, so the order is kept", () => {
    const dir = temporary()
    const log = open(dir)
    assert.isTrue(write(log, 1, true).handedOut)
    assert.isFalse(write(log, 2, false).handedOut, "no room: it waits on disk")
    assert.isFalse(write(log, 3, true).handedOut, "room now, but 2 is older")
    assert.deepStrictEqual(events(log.take(1)), ["e2"])
    assert.deepStrictEqual(events(log.take(5)), ["e3"])
    assert.isTrue(write(log, 4, true).handedOut)
    log.close()
  })

  it("deletes a segment once every record in it is settled, and the last one at close when it is empty", () => {
    const dir = temporary()
    const log = open(dir, { segmentBytes: 4096 })
    const positions: Array<Position> = []
    for (let i = 0; i < 200; i++) positions.push(write(log, i, true).position)
    const before = segments(dir).length
    assert.isAbove(before, 2, "the records span several segments")
    log.ack(positions.slice(0, 100))
    assert.isBelow(segments(dir).length, before)
    log.ack(positions.slice(100))
    log.close()
    const again = open(dir)
    assert.strictEqual(again.replayed, 0)
    again.close()
    assert.deepStrictEqual(segments(dir), [])
  })

  it("skips a torn record at the end (a crash mid-write) and counts it", () => {
    const dir = temporary()
    const log = open(dir)
    for (let i = 1; i <= 3; i++) write(log, i, true)
    log.close()
    const [segment] = segments(dir)
    const file = path.join(dir, segment!)
    fs.truncateSync(file, fs.statSync(file).size - 5)

    const again = open(dir)
    assert.strictEqual(again.corrupt, 1)
    assert.deepStrictEqual(events(again.take(10)), ["e1", "e2"])
    again.close()
  })

  it("skips a damaged record in the middle and still finds the ones after it", () => {
    const dir = temporary()
    const log = open(dir)
    for (let i = 1; i <= 3; i++) write(log, i, true)
    log.close()
    const file = path.join(dir, segments(dir)[0]!)
    const bytes = fs.readFileSync(file)
    const second = bytes.indexOf(Buffer.from("\"e2\""))
    bytes[second + 1] ^= 0xff
    fs.writeFileSync(file, bytes)

    const again = open(dir)
    assert.strictEqual(again.corrupt, 1)
    assert.deepStrictEqual(events(again.take(10)), ["e1", "e3"])
    again.close()
  })

  it("survives garbage where records should be, and a damaged acks.log", () => {
    const dir = temporary()
    const log = open(dir)
    const first = write(log, 1, true).position
    write(log, 2, true)
    log.ack([first])
    log.close()
    fs.appendFileSync(path.join(dir, segments(dir)[0]!), Buffer.from([0xa7, 0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5, 6]))
    fs.appendFileSync(path.join(dir, "acks.log"), Buffer.from("not an ack at all"))

    const again = open(dir)
    assert.isAtLeast(again.corrupt, 2)
    assert.deepStrictEqual(events(again.take(10)), ["e2"], "the ack before the garbage still counts")
    again.close()
  })

  it("starts a new segment at every open, so nothing is appended after a torn record", () => {
    const dir = temporary()
    open(dir).close()
    const log = open(dir)
    write(log, 1, true)
    log.close()
    const log2 = open(dir)
    write(log2, 2, true)
    log2.close()
    assert.strictEqual(segments(dir).length, 2)
  })

  it("refuses past maxBytes, and frees room as segments are settled", () => {
    const dir = temporary()
    const log = open(dir, { maxBytes: 64 * 1024 })
    const positions: Array<Position> = []
    while (log.hasRoom(json(positions.length).length)) positions.push(write(log, positions.length, true).position)
    assert.isAbove(positions.length, 1000)
    assert.isAtMost(log.bytes, 64 * 1024)
    log.ack(positions)
    assert.isTrue(log.hasRoom(json(0).length), "every record settled: the segments are deleted")
    log.close()
  })

  it("keeps acks.log small in a long run", () => {
    const dir = temporary()
    const log = open(dir, { segmentBytes: 4096 })
    for (let round = 0; round < 300; round++) {
      const positions: Array<Position> = []
      for (let i = 0; i < 500; i++) positions.push(write(log, i, true).position)
      log.ack(positions)
    }
    const size = fs.statSync(path.join(dir, "acks.log")).size
    // Without compaction: 150,000 acks of 17 bytes, 2.5 MB.
    assert.isBelow(size, 1.5 * 1024 * 1024, `150,000 acks, ${size} bytes`)
    log.close()
  })

  it("keeps dead letters in dead-letter.ndjson, one message per line", () => {
    const dir = temporary()
    const log = open(dir, { deadLetter: true })
    log.deadLetter([json(1)])
    log.deadLetter([json(2)])
    log.close()
    const lines = fs.readFileSync(path.join(dir, "dead-letter.ndjson"), "utf8").trim().split("\n")
    assert.deepStrictEqual(lines.map((line) => JSON.parse(line).event), ["e1", "e2"])
  })

  it("after a failed write, later records still read back right", () => {
    const dir = temporary()
    const real = Disk.node()
    let failNext = false
    const flaky: Disk.Disk = {
      ...real,
      write: (fd, bytes) => {
        if (!failNext) return real.write(fd, bytes)
        failNext = false
        real.write(fd, bytes.subarray(0, 4)) // part of it reached the disk
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
      }
    }
    const log = open(dir, {}, flaky)
    write(log, 1, false)
    failNext = true
    assert.throws(() => write(log, 2, false), /ENOSPC/)
    write(log, 3, false)
    assert.deepStrictEqual(events(log.take(10)), ["e1", "e3"])
    log.close()
    const again = open(dir)
    assert.deepStrictEqual(events(again.take(10)), ["e1", "e3"])
    assert.strictEqual(again.corrupt, 1, "the torn part is skipped")
    again.close()
  })

  it("a record whose fsync failed after it was written is never sent: the caller was told it failed", () => {
    const dir = temporary()
    const real = Disk.node()
    let failSync = false
    const flaky: Disk.Disk = {
      ...real,
      fsync: (fd) => {
        if (!failSync) return real.fsync(fd)
        failSync = false
        throw Object.assign(new Error("EIO: i/o error, fsync"), { code: "EIO" })
      }
    }
    const log = open(dir, { syncAlways: true }, flaky)
    write(log, 1, false)
    failSync = true
    assert.throws(() => write(log, 2, false), /EIO/)
    write(log, 3, false)
    assert.deepStrictEqual(events(log.take(10)), ["e1", "e3"])
    log.close()
    const again = open(dir)
    assert.deepStrictEqual(events(again.take(10)), ["e1", "e3"], "2 was acked when its write failed")
    again.close()
  })

  it("settles records in memory even when writing their acks fails, so their segments are still freed", () => {
    const dir = temporary()
    const real = Disk.node()
    let acksFail = false
    let acksFd = -1
    const flaky: Disk.Disk = {
      ...real,
      openAppend: (file) => {
        const fd = real.openAppend(file)
        if (file.endsWith("acks.log")) acksFd = fd
        return fd
      },
      write: (fd, bytes) => {
        if (acksFail && fd === acksFd) throw Object.assign(new Error("EIO: i/o error, write"), { code: "EIO" })
        return real.write(fd, bytes)
      }
    }
    const log = open(dir, { maxBytes: 64 * 1024 }, flaky)
    const positions: Array<Position> = []
    while (log.hasRoom(json(positions.length).length)) positions.push(write(log, positions.length, true).position)
    acksFail = true
    assert.throws(() => log.ack(positions), /EIO/)
    acksFail = false
    assert.isTrue(log.hasRoom(json(0).length), "the settled segments were deleted all the same")
    log.close()
  })

  it("does not take nine bytes of garbage for an empty record", () => {
    const dir = temporary()
    const log = open(dir)
    write(log, 1, true)
    log.close()
    fs.appendFileSync(path.join(dir, segments(dir)[0]!), Buffer.from([0xa7, 0, 0, 0, 0, 0, 0, 0, 0]))
    const again = open(dir)
    assert.deepStrictEqual(events(again.take(10)), ["e1"])
    assert.strictEqual(again.corrupt, 1)
    again.close()
  })

  it("a failed open releases the lock", () => {
    const dir = temporary()
    fs.mkdirSync(path.join(dir, "segment-0000000001.log")) // a directory where a segment should be
    assert.throws(() => open(dir), /EISDIR/)
    assert.isFalse(fs.existsSync(path.join(dir, "LOCK")))
    assert.throws(() => open(dir), /EISDIR/, "the same error again, not the lock of this process")
  })
})

describe("file outbox lock", () => {
  it("refuses a second client on the same directory, naming the holder", () => {
    const dir = temporary()
    const log = open(dir)
    assert.throws(() => open(dir), OutboxInUse, new RegExp(`process ${process.pid} on ${os.hostname()}`))
    log.close()
    open(dir).close()
  })

  it("takes over a lock whose process is gone", () => {
    const dir = temporary()
    fs.writeFileSync(path.join(dir, "LOCK"), JSON.stringify({ pid: 2 ** 22 + 1, host: os.hostname(), since: "" }))
    const log = open(dir)
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(dir, "LOCK"), "utf8")).pid, process.pid)
    log.close()
  })

  it("takes over a lock with this process's own pid that this process does not hold (a restarted container)", () => {
    const dir = temporary()
    fs.writeFileSync(path.join(dir, "LOCK"), JSON.stringify({ pid: process.pid, host: os.hostname(), since: "" }))
    open(dir).close()
  })

  it("takes over a lock file this library did not write (garbage)", () => {
    const dir = temporary()
    fs.writeFileSync(path.join(dir, "LOCK"), "{\"pid\":")
    open(dir).close()
  })

  it("takes over a lock from before a reboot, and one whose pid now runs another process", () => {
    const dir = temporary()
    // A live pid (this process's parent), but the lock says another boot, then another start time.
    const lock = { pid: process.ppid, host: os.hostname(), since: "" }
    fs.writeFileSync(path.join(dir, "LOCK"), JSON.stringify({ ...lock, boot: "a boot before this one" }))
    open(dir).close()
    fs.writeFileSync(path.join(dir, "LOCK"), JSON.stringify({ ...lock, start: "1" }))
    open(dir).close()
    // The same process, as it is: held.
    fs.writeFileSync(path.join(dir, "LOCK"), JSON.stringify({ ...lock, start: Disk.node().processStart(process.ppid) }))
    assert.throws(() => open(dir), OutboxInUse)
  })

  it("counts a lock of another host as held while it is refreshed, and stale a minute after", () => {
    const dir = temporary()
    const file = path.join(dir, "LOCK")
    fs.writeFileSync(file, JSON.stringify({ pid: 1, host: "another-host", since: "" }))
    assert.throws(() => open(dir), OutboxInUse, /another-host/)
    const twoMinutesAgo = new Date(Date.now() - 120_000)
    fs.utimesSync(file, twoMinutesAgo, twoMinutesAgo)
    open(dir).close()
  })

  it("a takeover that finds the stale lock already taken over puts the live lock back and gives up", () => {
    const dir = temporary()
    fs.writeFileSync(path.join(dir, "LOCK"), JSON.stringify({ pid: 2 ** 22 + 1, host: os.hostname(), since: "" }))
    const real = Disk.node()
    // Two processes on this machine, both alive.
    const alive = (pid: number) => pid === 111_111 || pid === 222_222
    const first: Disk.Disk = { ...real, pid: 111_111, isAlive: alive, processStart: () => undefined }
    let firstLock: Lock.Lock | undefined
    // The second reads the stale lock, and before it acts on it the first takes the directory over.
    const second: Disk.Disk = {
      ...real,
      pid: 222_222,
      isAlive: alive,
      processStart: () => undefined,
      readText: (file) => {
        const text = real.readText(file)
        if (firstLock === undefined && file.endsWith("LOCK")) firstLock = Lock.acquire(first, dir, Date.now)
        return text
      }
    }
    assert.throws(() => Lock.acquire(second, dir, Date.now), Lock.OutboxInUse, /process 111111/)
    assert.strictEqual(JSON.parse(fs.readFileSync(path.join(dir, "LOCK"), "utf8")).pid, 111_111, "the first keeps it")
    firstLock!.release()
  })

  it("of processes racing to take over a stale lock, exactly one wins", async () => {
    const dir = temporary()
    fs.writeFileSync(path.join(dir, "LOCK"), JSON.stringify({ pid: 2 ** 22 + 1, host: os.hostname(), since: "" }))
    const racer = fileURLToPath(new URL("fixtures/outbox-lock-racer.ts", import.meta.url))
    const children = Array.from({ length: 6 }, () => spawn(process.execPath, [racer, dir], { stdio: "pipe" }))
    const line = (child: (typeof children)[number]) =>
      new Promise<string>((resolve) => child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim())))
    try {
      // All loaded, then all told at once; each holds what it got until its stdin closes.
      await Promise.all(children.map(line))
      const results = await Promise.all(children.map((child) => {
        const result = line(child)
        child.stdin.write("go\n")
        return result
      }))
      assert.strictEqual(results.filter((r) => r === "won").length, 1, results.join(", "))
      assert.strictEqual(results.filter((r) => r === "in use").length, 5, results.join(", "))
    } finally {
      for (const child of children) child.stdin.end()
    }
  })
})
