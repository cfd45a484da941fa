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
  /** Opens for appending (created if missing), for reading, or creates exclusively (`undefined` if it exists). */
  readonly openAppend: (path: string) => number
  readonly openRead: (path: string) => number
  readonly createExclusive: (path: string) => number | undefined
  readonly write: (fd: number, bytes: Uint8Array) => void
  readonly read: (fd: number, into: Uint8Array, position: number) => number
  readonly fsync: (fd: number) => void
  readonly close: (fd: number) => void
  readonly size: (path: string) => number
  readonly unlink: (path: string) => void
  readonly rename: (from: string, to: string) => void
  readonly readText: (path: string) => string | undefined
  readonly truncate: (path: string, length: number) => void
  readonly join: (...parts: Array<string>) => string
  readonly resolve: (path: string) => string
  readonly hostname: () => string
  readonly pid: number
  /** Whether a process of this machine with that pid runs (a lock held by a dead one is stale). */
  readonly isAlive: (pid: number) => boolean
}

interface NodeFs {
  mkdirSync(path: string, options: { recursive: true }): unknown
  readdirSync(path: string): Array<string>
  openSync(path: string, flags: string): number
  writeSync(fd: number, buffer: Uint8Array, offset: number, length: number): number
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
  fsyncSync(fd: number): void
  closeSync(fd: number): void
  statSync(path: string): { readonly size: number }
  unlinkSync(path: string): void
  renameSync(from: string, to: string): void
  readFileSync(path: string, encoding: "utf8"): string
  truncateSync(path: string, length: number): void
}

interface NodeProcess {
  readonly pid: number
  readonly getBuiltinModule?: (id: string) => unknown
  readonly kill: (pid: number, signal: 0) => void
}

const code = (error: unknown): unknown => (error as { readonly code?: unknown })?.code

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
  return {
    mkdir: (dir) => void fs.mkdirSync(dir, { recursive: true }),
    list: (dir) => fs.readdirSync(dir),
    openAppend: (file) => fs.openSync(file, "a"),
    openRead: (file) => fs.openSync(file, "r"),
    createExclusive: (file) => {
      try {
        return fs.openSync(file, "wx")
      } catch (error) {
        if (code(error) === "EEXIST") return undefined
        throw error
      }
    },
    write: (fd, bytes) => {
      let written = 0
      while (written < bytes.length) written += fs.writeSync(fd, bytes, written, bytes.length - written)
    },
    read: (fd, into, position) => fs.readSync(fd, into, 0, into.length, position),
    fsync: (fd) => fs.fsyncSync(fd),
    close: (fd) => fs.closeSync(fd),
    size: (file) => fs.statSync(file).size,
    unlink: (file) => {
      try {
        fs.unlinkSync(file)
      } catch (error) {
        if (code(error) !== "ENOENT") throw error
      }
    },
    rename: (from, to) => fs.renameSync(from, to),
    readText: (file) => {
      try {
        return fs.readFileSync(file, "utf8")
      } catch (error) {
        if (code(error) === "ENOENT") return undefined
        throw error
      }
    },
    truncate: (file, length) => fs.truncateSync(file, length),
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
    }
  }
}
