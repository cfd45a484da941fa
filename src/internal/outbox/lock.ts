/**
 * One client per outbox directory: the `LOCK` file names the process that holds it.
 *
 * - Taking it is atomic and the file is never seen half-written: the owner is written to a file of its own, which is
 *   then hard-linked as `LOCK` (the link fails if `LOCK` exists).
 * - A lock is stale, and taken over, when its holder is gone: on this machine, its pid no longer runs, or runs a
 *   process started at another time (a pid reused), or the machine has rebooted since (another boot id); this
 *   process's own pid counts as held only if this process holds it (a restarted container gets the same pid). A
 *   lock written on another machine (a volume moved to a new host or container) is stale once its holder has not
 *   refreshed it for {@link staleAfterMillis}: holders refresh it every {@link heartbeatMillis}.
 * - Taking over moves the stale file aside with a rename, which only one process can win, then checks that what it
 *   moved is the stale lock it judged (and puts it back if a live process had taken the directory meanwhile).
 */
import type { Disk } from "./disk.ts"

/** Another live process holds the directory. */
export class OutboxInUse extends Error {
  override readonly name = "OutboxInUse"
}

export const heartbeatMillis = 10_000
export const staleAfterMillis = 60_000

const LOCK = "LOCK"

interface Holder {
  readonly pid?: unknown
  readonly host?: unknown
  readonly boot?: unknown
  readonly start?: unknown
  readonly since?: unknown
}

/** The directories this process holds, shared by every copy of this module (ESM and CommonJS may both be loaded). */
const lockedHere = (): Set<
  string
> => ((globalThis as Record<symbol, Set<string> | undefined>)[registry] ??= new Set<string>())
const registry = Symbol.for("cdp-analytics-effect/outbox/locked")

const encoder = new TextEncoder()
// A lock owner's token must differ between processes, not be reproducible: the OS's time and randomness, not the
// Effect Clock/Random a test may fix (two "processes" under one TestClock and seed would otherwise share a token).
const unique = () => `${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`

export interface Lock {
  /** Tells other machines the holder is alive (refreshes the file's time). */
  readonly heartbeat: () => void
  readonly release: () => void
}

/** Takes the lock of `dir`, or throws `OutboxInUse` naming the holder. */
export const acquire = (disk: Disk, dir: string, now: () => number): Lock => {
  const file = disk.join(dir, LOCK)
  const owner = JSON.stringify({
    pid: disk.pid,
    host: disk.hostname(),
    boot: disk.bootId(),
    start: disk.processStart(disk.pid),
    since: new Date(now()).toISOString()
  })

  const isHeld = (holder: Holder, modifiedAt: number): boolean => {
    if (typeof holder.pid !== "number") return false // not a lock this library wrote: nobody holds it
    if (holder.host !== disk.hostname()) return now() - modifiedAt < staleAfterMillis
    if (typeof holder.boot === "string" && holder.boot !== disk.bootId()) return false
    if (holder.pid === disk.pid) return lockedHere().has(dir)
    if (!disk.isAlive(holder.pid)) return false
    return typeof holder.start !== "string" || holder.start === disk.processStart(holder.pid)
  }

  for (let attempt = 0; attempt < 4; attempt++) {
    const mine = disk.join(dir, `${LOCK}.${disk.pid}.${unique()}`)
    disk.writeFile(mine, encoder.encode(owner))
    const linked = disk.linkExclusive(mine, file)
    disk.unlink(mine)
    if (linked) {
      lockedHere().add(dir)
      return {
        heartbeat: () => disk.touch(file, now()),
        release: () => {
          if (disk.readText(file) === owner) disk.unlink(file)
          lockedHere().delete(dir)
        }
      }
    }
    const text = disk.readText(file)
    if (text === undefined) continue // released meanwhile
    let holder: Holder = {}
    try {
      holder = JSON.parse(text)
    } catch {
      // Not JSON: not a lock this library wrote, so nobody holds it.
    }
    if (isHeld(holder, disk.modifiedAt(file) ?? 0)) {
      throw new OutboxInUse(
        `process ${String(holder.pid)} on ${String(holder.host)} holds it (since ${
          String(holder.since)
        }), and a directory serves one client at a time`
      )
    }
    // Stale. Only one process can move it aside; whoever does checks it moved the lock it judged.
    const aside = disk.join(dir, `${LOCK}.stale.${disk.pid}.${unique()}`)
    if (!disk.renameIfExists(file, aside)) continue
    if (disk.readText(aside) !== text) disk.linkExclusive(aside, file) // a live lock: put it back
    disk.unlink(aside)
  }
  throw new OutboxInUse("other processes kept taking and releasing it; try again")
}
