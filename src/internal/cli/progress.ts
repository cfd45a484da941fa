/**
 * What the importer shows while it runs and when it ends. On a terminal: a progress bar on standard error, redrawn
 * every 100 ms, with the lines about single input lines printed above it. Otherwise: one plain line every 5 s. At the
 * end a summary on standard output, as text or (`--json`) as one JSON object.
 */
import type { AnalyticsError } from "../../AnalyticsError.ts"
import { type Counts, unsettled } from "./importer.ts"

export interface Output {
  readonly write: (text: string) => void
}

export interface Terminal extends Output {
  /** Whether it is a terminal (a progress bar can be redrawn in place). */
  readonly isTTY: boolean
  readonly columns: number | undefined
}

/** One file's state, as the importer keeps it. */
export interface FileState {
  readonly file: string
  readonly counts: Readonly<Counts>
  readonly bytesRead: number
  readonly size: number | undefined
  readonly checkpoint: string | undefined
  readonly failed: string | undefined
}

export interface Summary {
  readonly files: ReadonlyArray<FileState>
  readonly dryRun: boolean
  readonly elapsedMillis: number
  /** What ended the import early: a signal, or an error that made it stop. */
  readonly stoppedBy: string | undefined
  readonly exitCode: number
}

/** How often a terminal-less run prints a line. */
const plainIntervalMillis = 5_000
/** Events per second are measured over this much of the recent past. */
const rateWindowMillis = 3_000

const number = new Intl.NumberFormat("en-US")
const format = (n: number): string => number.format(Math.round(n))

const bytes = (n: number): string =>
  n < 1024 ? `${n} B` : n < 1024 ** 2 ? `${(n / 1024).toFixed(1)} KB` : n < 1024 ** 3
    ? `${(n / 1024 ** 2).toFixed(1)} MB`
    : `${(n / 1024 ** 3).toFixed(2)} GB`

const duration = (millis: number): string => {
  const seconds = Math.round(millis / 1000)
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, "0")}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`
}

/** Lines that have their outcome (what events/s counts). */
const settled = (counts: Counts) => counts.delivered + counts.rejected + counts.failed

export class Progress {
  readonly #terminal: Terminal
  readonly #dryRun: boolean
  readonly started: number
  #barShown = false
  #fileIndex = 0
  #lastPlain: number
  readonly #samples: Array<{ readonly at: number; readonly settled: number; readonly bytes: number }> = []

  constructor(terminal: Terminal, options: { readonly dryRun: boolean; readonly now: number }) {
    this.#terminal = terminal
    this.#dryRun = options.dryRun
    this.started = this.#lastPlain = options.now
  }

  /** A line about the run (a note, a rejected or failed input line): printed above the bar. */
  print(text: string): void {
    this.#clearBar()
    this.#terminal.write(`${text}\n`)
  }

  rejected(file: string, line: number, reason: string): void {
    this.print(`${file}:${line}: rejected: ${reason}`)
  }

  failed(file: string, line: number, error: AnalyticsError): void {
    this.print(`${file}:${line}: not delivered: ${error.message}`)
  }

  /** Called every 100 ms with the file being imported and its place in the list. */
  tick(state: FileState, index: number, of: number, now: number): void {
    const samples = this.#samples
    // A new file starts its counts at zero: measure that file only.
    if (index !== this.#fileIndex) {
      this.#fileIndex = index
      samples.length = 0
    }
    samples.push({ at: now, settled: settled(state.counts), bytes: state.bytesRead })
    while (samples.length > 2 && samples[0]!.at < now - rateWindowMillis) samples.shift()
    if (this.#terminal.isTTY) {
      this.#drawBar(state, index, of, now)
    } else if (now - this.#lastPlain >= plainIntervalMillis) {
      this.#lastPlain = now
      this.#terminal.write(`${this.#describe(state, index, of, now, false)}\n`)
    }
  }

  /** Removes the bar: what follows is printed on a clean line. */
  end(): void {
    this.#clearBar()
  }

  #rates(): { readonly events: number; readonly bytes: number } {
    const samples = this.#samples
    const first = samples[0]
    const last = samples[samples.length - 1]
    if (first === undefined || last === undefined || last.at <= first.at) return { events: 0, bytes: 0 }
    const seconds = (last.at - first.at) / 1000
    return { events: (last.settled - first.settled) / seconds, bytes: (last.bytes - first.bytes) / seconds }
  }

  #describe(state: FileState, index: number, of: number, now: number, short: boolean): string {
    const { counts, size } = state
    const rates = this.#rates()
    const name = of > 1 ? `${state.file} (${index + 1}/${of})` : state.file
    const percent = size === undefined || size === 0 ? undefined : Math.min(100, (state.bytesRead / size) * 100)
    const eta = size === undefined || rates.bytes <= 0
      ? undefined
      : duration(((size - state.bytesRead) / rates.bytes) * 1000)
    const done = this.#dryRun ? "valid" : "delivered"
    const parts = [
      percent === undefined ? bytes(state.bytesRead) : short ? `${percent.toFixed(0)}%` : `${percent.toFixed(1)}%`,
      `${format(rates.events)} events/s`,
      ...(eta === undefined ? [] : [`ETA ${eta}`]),
      `${format(counts.delivered)} ${done}`,
      `${format(counts.rejected)} rejected`,
      ...(this.#dryRun ? [] : [`${format(counts.failed)} failed`])
    ]
    if (short) return parts.join("  ")
    return `${name}: ${parts.join(", ")} (${duration(now - this.started)} elapsed)`
  }

  #drawBar(state: FileState, index: number, of: number, now: number): void {
    const columns = this.#terminal.columns ?? 80
    const name = of > 1 ? `${state.file} (${index + 1}/${of})` : state.file
    const text = this.#describe(state, index, of, now, true)
    const width = Math.max(10, Math.min(30, columns - text.length - name.length - 6))
    const fraction = state.size === undefined || state.size === 0 ? 0 : Math.min(1, state.bytesRead / state.size)
    const filled = Math.round(fraction * width)
    const bar = state.size === undefined ? "" : `[${"█".repeat(filled)}${"░".repeat(width - filled)}] `
    const line = `${name} ${bar}${text}`
    this.#terminal.write(`\r\x1b[2K${line.length > columns ? line.slice(0, columns - 1) : line}`)
    this.#barShown = true
  }

  #clearBar(): void {
    if (!this.#barShown) return
    this.#terminal.write("\r\x1b[2K")
    this.#barShown = false
  }
}

/** The end of a run, for people. */
export const summaryText = (summary: Summary): string => {
  const out: Array<string> = []
  const seconds = summary.elapsedMillis / 1000
  for (const state of summary.files) {
    const { counts } = state
    const handled = settled(counts)
    const rate = seconds > 0 ? ` (${format(handled / seconds)} events/s)` : ""
    const verb = summary.dryRun ? "Checked" : "Imported"
    out.push(`${verb} ${state.file}: ${format(counts.lines - counts.resumed)} lines in ${seconds.toFixed(1)}s${rate}`)
    if (counts.resumed > 0) out.push(`  resumed after line ${format(counts.resumed)} (from the checkpoint)`)
    out.push(`  ${summary.dryRun ? "valid" : "delivered"}: ${format(counts.delivered)}`)
    out.push(`  rejected: ${format(counts.rejected)}${counts.rejected > 0 ? " (each line is named above)" : ""}`)
    if (!summary.dryRun) {
      const failedTo = counts.failed > 0 && state.failed !== undefined
        ? ` (written to ${state.failed}: import that file to send them again, with the same messageIds)`
        : ""
      out.push(`  failed: ${format(counts.failed)}${failedTo}`)
      const unsent = unsettled(counts)
      if (unsent > 0) {
        out.push(
          `  not sent: ${format(unsent)}${
            state.checkpoint === undefined ? "" : " (the checkpoint is before them: run the same command to send them)"
          }`
        )
      }
    }
    if (counts.blank > 0) out.push(`  blank lines: ${format(counts.blank)}`)
  }
  if (summary.stoppedBy !== undefined) out.push(`Stopped: ${summary.stoppedBy}`)
  return `${out.join("\n")}\n`
}

/** The end of a run, for programs (`--json`). */
export const summaryJson = (summary: Summary): string =>
  `${
    JSON.stringify({
      exitCode: summary.exitCode,
      dryRun: summary.dryRun,
      stoppedBy: summary.stoppedBy ?? null,
      elapsedSeconds: summary.elapsedMillis / 1000,
      files: summary.files.map((state) => ({
        file: state.file,
        lines: state.counts.lines,
        resumed: state.counts.resumed,
        blank: state.counts.blank,
        delivered: state.counts.delivered,
        rejected: state.counts.rejected,
        failed: state.counts.failed,
        notSent: unsettled(state.counts),
        checkpoint: state.checkpoint ?? null,
        failedFile: state.failed ?? null
      }))
    })
  }\n`
