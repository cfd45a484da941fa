/**
 * The file operations the outbox needs, synchronous: the Promise API's calls return only once their record is
 * written, and a synchronous call cannot wait for an asynchronous write. Node's `fs` is reached through
 * `process.getBuiltinModule` rather than an import, so no module of the package imports `node:` statically (the
 * root stays loadable where there is no file system; the outbox then says it needs one).
 */

export interface Disk {
  readonly mkdir: (path: string) => void
  /** File names in a directory. */
  readonly list: (dir: string) => Array<string>
  /** Opens for appending (created if missing), or for reading. */
  readonly openAppend: (path: string) => number
  readonly openRead: (path: string) => number
  readonly write: (fd: number, bytes: Uint8Array) => void
  readonly read: (fd: number, into: Uint8Array, position: number) => number
  readonly fsync: (fd: number) => void
  /** Makes the directory's entries (files created, renamed, deleted) durable. */
  readonly fsyncDirectory: (dir: string) => void
  readonly close: (fd: number) => void
  readonly size: (path: string) => number
  /** Writes a whole new file and forces it to disk. */
  readonly writeFile: (path: string, bytes: Uint8Array) => void
  readonly unlink: (path: string) => void
  readonly rename: (from: string, to: string) => void
  /** `rename`, or `false` if `from` is gone. */
  readonly renameIfExists: (from: string, to: string) => boolean
  /** A hard link `to` of `from`, or `false` if `to` exists: atomic, so only one of several processes wins. */
  readonly linkExclusive: (from: string, to: string) => boolean
  readonly readText: (path: string) => string | undefined
  /** Epoch milliseconds of the last change, or `undefined` if the file is gone. */
  readonly modifiedAt: (path: string) => number | undefined
  readonly touch: (path: string, epochMillis: number) => void
  readonly join: (...parts: Array<string>) => string
  readonly resolve: (path: string) => string
  readonly hostname: () => string
  readonly pid: number
  /** Whether a process of this machine with that pid runs (a lock held by a dead one is stale). */
  readonly isAlive: (pid: number) => boolean
  /** This boot of the machine (Linux), so a lock from before a reboot is known as stale. */
  readonly bootId: () => string | undefined
  /** When a process started (Linux), so a pid reused by another process is known. */
  readonly processStart: (pid: number) => string | undefined
}

interface NodeFs {
  mkdirSync(path: string, options: { recursive: true }): unknown
  readdirSync(path: string): Array<string>
  openSync(path: string, flags: string): number
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
  fsyncSync(fd: number): void
  closeSync(fd: number): void
  statSync(path: string): { readonly size: number; readonly mtimeMs: number }
  unlinkSync(path: string): void
  renameSync(from: string, to: string): void
  linkSync(from: string, to: string): void
  readFileSync(path: string, encoding: "utf8"): string
  utimesSync(path: string, atime: Date, mtime: Date): void
}

interface NodeProcess {
  readonly pid: number
  readonly getBuiltinModule?: (id: string) => unknown
  readonly kill: (pid: number, signal: 0) => void
}

const code = (error: unknown): unknown => (error as { readonly code?: unknown })?.code

/** `run`, or `fallback` when it fails with one of these error codes. */
const unless = <A>(codes: ReadonlyArray<string>, fallback: A, run: () => A): A => {
  try {
    return run()
  } catch (error) {
    if (codes.includes(code(error) as string)) return fallback
    throw error
  }
}

/** Node's (and Bun's, Deno's) file system, or an error saying the outbox needs one. */
export const node = (): Disk => {
  const process = (globalThis as { readonly process?: NodeProcess }).process
  const fs = process?.getBuiltinModule?.("node:fs") as NodeFs | undefined
  const path = process?.getBuiltinModule?.("node:path") as
    | { join(...parts: Array<string>): string; resolve(path: string): string }
    | undefined
  const os = process?.getBuiltinModule?.("node:os") as { hostname(): string } | undefined
  if (process === undefined || fs === undefined || path === undefined || os === undefined) {
    throw new Error("the file outbox needs a file system (node:fs), which this runtime does not have")
  }
  const readText = (file: string) => unless(["ENOENT"], undefined, () => fs.readFileSync(file, "utf8"))
  return {
    mkdir: (dir) => void fs.mkdirSync(dir, { recursive: true }),
    list: (dir) => fs.readdirSync(dir),
    openAppend: (file) => fs.openSync(file, "a"),
    openRead: (file) => fs.openSync(file, "r"),
    write: (fd, bytes) => {
      let written = 0
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written)
    },
    read: (fd, into, position) => fs.readSync(fd, into, 0, into.length, position),
    fsync: (fd) => fs.fsyncSync(fd),
    fsyncDirectory: (dir) => {
      const fd = fs.openSync(dir, "r")
      try {
        // Some file systems cannot sync a directory; the files themselves are synced regardless.
        unless(["EINVAL", "EISDIR", "EPERM"], undefined, () => fs.fsyncSync(fd))
      } finally {
        fs.closeSync(fd)
      }
    },
    close: (fd) => fs.closeSync(fd),
    size: (file) => fs.statSync(file).size,
    writeFile: (file, bytes) => {
      const fd = fs.openSync(file, "w")
      try {
        let written = 0
        while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written)
        fs.fsyncSync(fd)
      } finally {
        fs.closeSync(fd)
      }
    },
    unlink: (file) => unless(["ENOENT"], undefined, () => fs.unlinkSync(file)),
    rename: (from, to) => fs.renameSync(from, to),
    renameIfExists: (from, to) => unless(["ENOENT"], false, () => (fs.renameSync(from, to), true)),
    linkExclusive: (from, to) => unless(["EEXIST"], false, () => (fs.linkSync(from, to), true)),
    readText,
    modifiedAt: (file) => unless(["ENOENT"], undefined, () => fs.statSync(file).mtimeMs),
    touch: (file, epochMillis) => fs.utimesSync(file, new Date(epochMillis), new Date(epochMillis)),
    join: (...parts) => path.join(...parts),
    resolve: (file) => path.resolve(file),
    hostname: () => os.hostname(),
    pid: process.pid,
    isAlive: (pid) => {
      try {
        process.kill(pid, 0)
        return true
      } catch (error) {
        // EPERM: it runs, under another user.
        return code(error) === "EPERM"
      }
    },
    bootId: () => readText("/proc/sys/kernel/random/boot_id")?.trim(),
    processStart: (pid) => {
      // Field 22 of /proc/<pid>/stat, counted after the command name (which may hold spaces and parentheses).
      const stat = unless(["ENOENT", "EACCES"], undefined, () => readText(`/proc/${pid}/stat`))
      return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[19]
    }
  }
}
