/**
 * Nothing fails silently: what the client could not deliver, the calls it refused and the options or params keys it
 * ignored are logged, as warnings, through Effect's logger. An outage must not flood the log, so each cause is logged
 * once per interval: the first occurrence in full, the rest counted and summed up when the cause shows up again
 * after the interval, or when the client closes. No timer is involved, so logging never keeps a process alive.
 */
import type * as LogLevel from "effect/LogLevel"
import type { AnalyticsError } from "../AnalyticsError.ts"
import type * as Message from "../Message.ts"

export type Log = (level: LogLevel.Severity, message: string, annotations: Readonly<Record<string, unknown>>) => void

export interface Options {
  readonly log: Log
  /** Epoch milliseconds, from the `Clock`. */
  readonly now: () => number
  /** How long one cause stays quiet after it was logged. */
  readonly intervalMillis: number
}

/** A failed message; only the few a log line names are read (an envelope parses its message on first use). */
export interface Failed {
  readonly message: Message.WireMessage
}

export interface Reporter {
  /** Messages that finally failed (a final status, retries used up, the close timeout). */
  readonly failed: (messages: ReadonlyArray<Failed>, error: AnalyticsError) => void
  /** A call refused after validation (queue full, too large, after close). */
  readonly refused: (call: Message.CallType, error: AnalyticsError) => void
  /** Logged once for the life of the client, whatever the interval. */
  readonly once: (key: string, message: string) => void
  /** A rare event worth knowing about (not a problem), such as messages replayed from the outbox. */
  readonly info: (message: string, annotations: Readonly<Record<string, unknown>>) => void
  /** Not rate-limited: only used when debugging was asked for. */
  readonly debug: (message: string, annotations: Readonly<Record<string, unknown>>) => void
  /** Sums up what was counted and not yet logged: the client is closing. */
  readonly flush: () => void
}

/** How many messageIds a log line names; the rest are counted. */
const shownIds = 3

export const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

const idsOf = (messages: ReadonlyArray<Failed>): string =>
  messages.slice(0, shownIds).map((m) => m.message.messageId).join(", ")
  + (messages.length > shownIds ? `, … (${messages.length - shownIds} more)` : "")

const keyOf = (error: AnalyticsError): string => {
  const reason = error.reason
  switch (reason._tag) {
    case "HttpError":
      return `HttpError ${reason.status}`
    case "TransportError":
      return reason.code === undefined ? "TransportError" : `TransportError ${reason.code}`
    default:
      return reason._tag
  }
}

const failureText = (count: number, error: AnalyticsError): string => {
  const reason = error.reason
  const what = plural(count, "message was", "messages were")
  if (reason._tag !== "FlushTimeout") return `${what} not delivered: ${error.message}`
  const last = reason.lastError === undefined ? "" : ` (the last attempt: ${reason.lastError})`
  const fate = reason.kept === true
    ? "not delivered yet: kept in the outbox for the next client that opens it"
    : "so not delivered"
  return `${what} still pending at the close timeout of ${reason.timeoutMillis} ms, ${fate}${last}`
}

interface Window {
  readonly since: number
  events: number
  messages: number
}

export const make = (options: Options): Reporter => {
  const windows = new Map<string, Window>()
  const logged = new Set<string>()

  const summarize = (key: string, window: Window) => {
    if (window.events === 0) return
    const seconds = Math.round((options.now() - window.since) / 1000)
    const messages = window.messages === window.events ? "" : ` (${plural(window.messages, "message", "messages")})`
    options.log(
      "Warn",
      `cdp-analytics: ${plural(window.events, "more time", "more times")} in the last ${seconds} s: ${key}${messages}`,
      { cause: key, occurrences: window.events, messages: window.messages }
    )
  }

  // True when this occurrence is to be logged in full; otherwise it is counted.
  const admit = (key: string, messages: number): boolean => {
    const now = options.now()
    const window = windows.get(key)
    if (window !== undefined && now - window.since < options.intervalMillis) {
      window.events++
      window.messages += messages
      return false
    }
    if (window !== undefined) summarize(key, window)
    windows.set(key, { since: now, events: 0, messages: 0 })
    return true
  }

  return {
    failed: (messages, error) => {
      // A close gives up once: each of its lines (one per last error) is logged in full.
      if (error.reason._tag !== "FlushTimeout" && !admit(`not delivered: ${keyOf(error)}`, messages.length)) return
      options.log("Warn", `cdp-analytics: ${failureText(messages.length, error)}`, {
        reason: error.reason._tag,
        ...(error.reason._tag === "HttpError" ? { status: error.reason.status } : {}),
        ...(error.reason._tag === "TransportError" && error.reason.code ? { code: error.reason.code } : {}),
        messages: messages.length,
        messageIds: idsOf(messages)
      })
    },
    refused: (call, error) => {
      if (!admit(`refused: ${error.reason._tag}`, 1)) return
      options.log("Warn", `cdp-analytics: a ${call} call was refused: ${error.message}`, {
        reason: error.reason._tag,
        call
      })
    },
    once: (key, message) => {
      if (logged.has(key)) return
      logged.add(key)
      options.log("Warn", `cdp-analytics: ${message}`, {})
    },
    info: (message, annotations) => options.log("Info", `cdp-analytics: ${message}`, annotations),
    debug: (message, annotations) => options.log("Debug", `cdp-analytics: ${message}`, annotations),
    flush: () => {
      for (const [key, window] of windows) summarize(key, window)
      windows.clear()
    }
  }
}

/** For `logLevel: "None"`. */
export const silent: Reporter = {
  failed: () => {},
  refused: () => {},
  once: () => {},
  info: () => {},
  debug: () => {},
  flush: () => {}
}
