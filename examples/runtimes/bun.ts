/**
 * A Bun script with the Promise API, exactly as on Node: the default transport is `node:http` with keep-alive
 * sockets, which Bun provides. The Effect API works on Bun too (with `FetchHttpClient.layer` or `NodeTransport`).
 *
 * Run it: `CUSTOMERIO_WRITE_KEY=… bun examples/runtimes/bun.ts`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect"
import { Analytics } from "../../src/index.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

cioanalytics.identify({ userId: "019mr8mf4r", traits: { email: "cool.person@example.com", runtime: "bun" } })
cioanalytics.track({ userId: "019mr8mf4r", event: "Build Finished", properties: { durationMs: 1840 } }, (err) => {
  if (err) console.error(`not delivered: ${err.message}`)
})

// Before the script ends: send what is queued and release every socket and timer.
await cioanalytics.closeAndFlush()
console.log("sent 2 messages from Bun")
