/**
 * The importer's checkpoint: how far into a file every line has a final outcome, so that running the same command
 * again resumes there. It is a small JSON file written atomically (a new file, then a rename), and it names the file's
 * prefix by its SHA-256: a checkpoint is refused for a file whose prefix is not the one it was made for (a file that
 * shrank, or was edited or replaced).
 */
import * as crypto from "node:crypto"
import * as fs from "node:fs"
import { chunks } from "./lines.ts"

export interface Checkpoint {
  readonly version: 1
  readonly file: string
  /** Bytes below which every line has a final outcome (decompressed bytes for a `.gz` file). */
  readonly offset: number
  /** Lines below the offset. */
  readonly lines: number
  /** SHA-256 (hex) of the file's bytes below the offset. */
  readonly prefixSha256: string
  /** The run's own counts so far, for people reading the file; resuming does not use them. */
  readonly delivered: number
  readonly rejected: number
  readonly failed: number
  readonly updatedAt: string
}

export type Hash = crypto.Hash

export const sha256 = (): Hash => crypto.createHash("sha256")

/** The checkpoint at `path`, `undefined` if there is none; throws if it cannot be read as one. */
export const read = (path: string): Checkpoint | undefined => {
  let text: string
  try {
    text = fs.readFileSync(path, "utf8")
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return undefined
    throw error
  }
  let parsed: Checkpoint | undefined
  try {
    parsed = JSON.parse(text) as Checkpoint
  } catch {
    // Reported below.
  }
  if (
    typeof parsed !== "object" || parsed === null || parsed.version !== 1 || typeof parsed.offset !== "number"
    || typeof parsed.lines !== "number" || typeof parsed.prefixSha256 !== "string"
  ) {
    throw new Error(`${path} is not a checkpoint of cdp-analytics import`)
  }
  return parsed
}

/** Writes the checkpoint atomically: a crash leaves the old one or the new one, never half of one. */
export const write = async (path: string, checkpoint: Checkpoint): Promise<void> => {
  const temporary = `${path}.tmp`
  await writeDurably(temporary, `${JSON.stringify(checkpoint, null, 2)}\n`, "w")
  await fs.promises.rename(temporary, path)
}

/**
 * Writes (`"w"`) or appends (`"a"`) `text` and waits until the disk has it, so that after a power loss the
 * checkpoint never points past a failed line that the failed file lost. Once per save (every 100 ms at most), off
 * the event loop: a slow disk delays the checkpoint, not the requests.
 */
export const writeDurably = async (path: string, text: string, flag: "w" | "a"): Promise<void> => {
  const file = await fs.promises.open(path, flag)
  try {
    await file.writeFile(text)
    await file.sync()
  } finally {
    await file.close()
  }
}

/**
 * Checks that `file` still begins with the prefix the checkpoint was made for, and returns the hash of that prefix
 * to go on from; throws, saying why, if it does not.
 */
export const verify = async (file: string, checkpoint: Checkpoint): Promise<Hash> => {
  const hash = sha256()
  let seen = 0
  let count = 0
  let last = 10
  let grown = false
  for await (const chunk of chunks(file)) {
    const part = chunk.subarray(0, checkpoint.offset - seen)
    hash.update(part)
    for (let at = part.indexOf(10); at !== -1; at = part.indexOf(10, at + 1)) count++
    seen += part.length
    if (part.length > 0) last = part[part.length - 1]!
    if (seen < checkpoint.offset) continue
    // A prefix that ends without a newline was the whole file: nothing may follow it, in this chunk or the next (it
    // would belong to its line).
    grown = last !== 10 && chunk.length > part.length
    if (last === 10 || grown) break
  }
  if (last !== 10) count++
  if (seen !== checkpoint.offset || grown) {
    throw new Error(
      `the checkpoint says ${checkpoint.offset} bytes of ${file} were imported, but the file has no line ending there (it shrank or changed): remove the checkpoint to import the file from the start`
    )
  }
  if (hash.copy().digest("hex") !== checkpoint.prefixSha256 || count !== checkpoint.lines) {
    throw new Error(
      `the first ${checkpoint.offset} bytes of ${file} are not the ones the checkpoint was made for (the file was edited or replaced): remove the checkpoint to import the file from the start`
    )
  }
  return hash
}
