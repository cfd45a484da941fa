/**
 * A durable outbox: with `outbox: { path }`, each call returns only once its message is written to that directory,
 * so a crash, an out-of-memory kill or a deploy that kills the process loses nothing. Whatever a client could not
 * send (it crashed, or its close timed out) is sent first by the next client that opens the directory, with the
 * original `messageId`s, which the API uses to drop a re-sent duplicate.
 *
 * Here the first client cannot reach the API (nothing listens on its port), so its close gives up: the messages stay
 * in the outbox (`FlushTimeout` with `kept: true`). The second client, pointed at the real host, opens the directory
 * and sends them before its own. Run it: `npm run example -- outbox`. More in docs/outbox.md.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env
// In production: a directory on a persistent volume, the same one at every start.
const path = mkdtempSync(join(tmpdir(), "analytics-outbox-"))

// 1. A client whose API is down: port 9 on this machine, where nothing listens.
const offline = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: "http://127.0.0.1:9", outbox: { path } })
offline.track({ userId: "019mr8mf4r", event: "Order Completed", properties: { total: 42 } }, (err) => {
  if (err?.reason._tag === "FlushTimeout" && err.reason.kept) console.log("not sent yet, but kept in the outbox")
})
offline.track({ userId: "019mr8mf4r", event: "Receipt Emailed" })
await offline.closeAndFlush({ timeout: 1_000 })

// 2. The next start: the same directory, the API reachable again. What was kept goes first.
const online = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST, outbox: { path } })
online.track({ userId: "019mr8mf4r", event: "Session Started" })
await online.closeAndFlush()
console.log("the outbox is empty again: every message was delivered")

rmSync(path, { recursive: true, force: true })
