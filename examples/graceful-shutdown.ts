/**
 * Flush long running processes: messages wait in a queue before they are sent, so a server that is stopped (a
 * deploy, a restart, Ctrl-C) must call `closeAndFlush` before it exits, or it drops what is still queued.
 *
 * This is the original documentation's example, made correct:
 *
 * - `closeAndFlush` runs once: a guard ignores every later trigger (the original re-entered it on every event).
 *   Listeners are registered with `once`, so a second Ctrl-C during the flush stops the process at once, as users
 *   expect of a second Ctrl-C.
 * - The process exits with a number: 128 + the signal's number for a signal (143 for SIGTERM, as a shell reports
 *   it), 1 after an uncaught error. The original passed the event's argument (`"SIGTERM"`, an `Error`) to
 *   `process.exit`, which throws on Node 20 and later, so it never exited cleanly.
 * - Only signals that ask a process to stop are caught: SIGINT, SIGTERM, SIGHUP, SIGQUIT. SIGSEGV, SIGILL, SIGBUS
 *   and SIGFPE are crashes JavaScript cannot safely run through, SIGUSR1 is Node's debugger signal, SIGKILL cannot
 *   be caught at all. `beforeExit` is not needed: a queued message keeps the process alive until it is sent.
 * - A work timer is stopped first, so nothing is tracked after close (it would fail with `ClientClosed`).
 *
 * Every call's callback is counted, so the last line proves that nothing went missing: each call was delivered or
 * its failure reported before the process exited.
 *
 * Run it against a local collector (`npm run example` starts one), or any endpoint:
 * `CUSTOMERIO_HOST=http://127.0.0.1:8787 CUSTOMERIO_WRITE_KEY=… node examples/graceful-shutdown.ts`, then Ctrl-C.
 * `CUSTOMERIO_CLOSE_TIMEOUT` (ms, default 10000) bounds how long the flush may take.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { randomUUID } from "node:crypto"
import { constants } from "node:os"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_CLOSE_TIMEOUT = "10000", CUSTOMERIO_HOST, CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY" } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST, maxEventsInBatch: 10 })

const tally = { calls: 0, delivered: 0, failed: new Map<string, number>() }

const track = (n: number) => {
  tally.calls++
  cioanalytics.track({
    anonymousId: randomUUID(),
    event: "Test event",
    properties: { name: "Test event", n, timestamp: new Date() }
  }, (err) => {
    if (err === undefined) tally.delivered++
    else tally.failed.set(err.reason._tag, (tally.failed.get(err.reason._tag) ?? 0) + 1)
  })
}

// Stands in for the server's own work: ten events every 5 ms.
let n = 0
const work = setInterval(() => {
  for (let i = 0; i < 10; i++) track(n++)
}, 5)

let closing = false

const exitGracefully = async (code: number, why: string) => {
  if (closing) return
  closing = true
  clearInterval(work)
  console.log(`${why}: flushing events`)
  // Resolves, never rejects, once every queued message is delivered or has failed (after the timeout, with
  // FlushTimeout): each callback above has run by then.
  await cioanalytics.closeAndFlush({ timeout: Number(CUSTOMERIO_CLOSE_TIMEOUT) })
  const failed = [...tally.failed].map(([reason, count]) => `${reason} ${count}`).join(", ")
  console.log(
    `flushed: ${tally.calls} calls, ${tally.delivered} delivered, ${tally.calls - tally.delivered} failed`
      + (failed === "" ? "" : ` (${failed})`)
  )
  process.exit(code)
}

for (const signal of ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"] as const) {
  process.once(signal, () => void exitGracefully(128 + constants.signals[signal], signal))
}
process.once("uncaughtException", (error) => {
  console.error(error)
  void exitGracefully(1, "uncaughtException")
})
process.once("unhandledRejection", (reason) => {
  console.error(reason)
  void exitGracefully(1, "unhandledRejection")
})

console.log(`tracking ten events every 5 ms; stop with Ctrl-C (pid ${process.pid})`)
