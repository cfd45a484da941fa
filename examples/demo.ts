/**
 * `npm run demo`: every documented call, sent through both faces of the library, then a summary.
 *
 * It always sends to the local collector, which it starts on 127.0.0.1, even when `CUSTOMERIO_WRITE_KEY` is set:
 * the demo's data is made up, and must never land in a real workspace by accident. To send it to the real
 * Customer.io API on purpose, pass `--live` (`npm run demo -- --live`) with `CUSTOMERIO_WRITE_KEY` set (and
 * optionally `CUSTOMERIO_REGION=eu` or `CUSTOMERIO_HOST`).
 *
 * `npm run demo -- --inspect` keeps the collector open after the run, so its inspector (printed as "Inspector:") shows
 * what was sent until Ctrl-C.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Collector from "../src/Collector.ts"
import { Analytics, AnalyticsClient } from "../src/index.ts"
import * as NodeTransport from "../src/NodeTransport.ts"

const live = process.argv.includes("--live")
const inspect = process.argv.includes("--inspect")
const realKey = process.env.CUSTOMERIO_WRITE_KEY
if (live && !realKey) {
  console.error("--live sends the demo's made-up data to the real API: set CUSTOMERIO_WRITE_KEY to your source's key.")
  process.exit(2)
}
const collector = live ? undefined : await Collector.start({ writeKey: "demo-write-key" })
// Both faces take the same options.
const options: { writeKey: string; host?: string | undefined; region?: "us" | "eu" } = collector === undefined
  ? {
    writeKey: realKey!,
    region: process.env.CUSTOMERIO_REGION?.toLowerCase() === "eu" ? "eu" : "us",
    host: process.env.CUSTOMERIO_HOST || undefined
  }
  : { writeKey: "demo-write-key", host: collector.url }

if (collector === undefined) {
  console.log(`--live: sending the demo's made-up data to ${options.host ?? "the Customer.io API"}`)
} else if (realKey) {
  console.log(
    "CUSTOMERIO_WRITE_KEY is set but ignored: the demo sends to the local collector (--live sends to the API)"
  )
}
if (collector !== undefined) console.log(`Local collector listening on ${collector.url}`)
if (collector !== undefined && inspect) console.log(`Inspector: ${collector.inspectorUrl} (open it in a browser)`)

// 1. The Promise facade, exactly as the original library's documentation uses it.
const outcomes = { delivered: 0, failed: 0 }
const settled = (err: unknown) => (err ? outcomes.failed++ : outcomes.delivered++)
const cioanalytics = new Analytics(options)
cioanalytics.on("error", (err) => console.error(`error ${err.code}: ${err.reason.message}`))

cioanalytics.identify({
  userId: "019mr8mf4r",
  traits: { name: "Cool Person", email: "cool.person@example.com", plan: "Enterprise", friends: 42 }
}, settled)
cioanalytics.track({
  userId: "019mr8mf4r",
  event: "added_to_cart",
  properties: { product: "shoes", revenue: 39.95, qty: 1, size: 9 }
}, settled)
cioanalytics.track({
  anonymousId: "48d213bb-95c3-4f8d-af97-86b2b404dcfe",
  event: "added_to_cart",
  properties: { product: "shoes", revenue: 39.95, qty: 1, size: 9 }
}, settled)
cioanalytics.page({
  userId: "019mr8mf4r",
  category: "Docs",
  name: "Customer.io CDP",
  properties: {
    url: "https://customer.io/cdp/",
    path: "/cdp/",
    title: "Customer.io CDP",
    referrer: "https://customer.io"
  }
}, settled)
cioanalytics.screen({ userId: "019mr8mf4r", name: "Home", properties: { variant: "dark" } }, settled)
cioanalytics.group({
  userId: "019mr8mf4r",
  groupId: "56",
  traits: { name: "Initech", description: "Accounting Software", objectTypeId: 1 }
}, settled)
cioanalytics.track({ userId: "anonymous_user", event: "Anonymous Event" }, settled)
cioanalytics.alias({ previousId: "anonymous_user", userId: "identified@example.com" }, settled)
cioanalytics.identify({ userId: "identified@example.com", traits: { plan: "Free" } }, settled)
cioanalytics.track({ userId: "identified@example.com", event: "Identified Action" }, settled)
cioanalytics.track({
  event: "Membership Upgraded",
  userId: "97234974",
  integrations: { "All": false, "Mixpanel": true, "Google Analytics": false }
}, settled)
cioanalytics.track({ userId: "019mr8mf4r", event: "Backfilled", timestamp: new Date("2024-01-15T10:00:00Z") }, settled)
await cioanalytics.closeAndFlush()

// 2. The Effect API: an AnalyticsClient layer whose scope closes (and drains) when the program ends.
const program = Effect.gen(function*() {
  const analytics = yield* AnalyticsClient.AnalyticsClient
  const failures = yield* Ref.make(0)
  yield* analytics.failures.pipe(
    Stream.runForEach(({ messages }) => Ref.update(failures, (n) => n + messages.length)),
    Effect.forkScoped
  )
  const sent = yield* Effect.forEach([
    analytics.identify({ userId: "effect-user", traits: { plan: "Pro" } }),
    analytics.track({ userId: "effect-user", event: "Signed Up", properties: { source: "demo" } }),
    analytics.page({ userId: "effect-user", name: "Pricing" }),
    analytics.screen({ anonymousId: "effect-device", name: "Settings" }),
    analytics.group({ userId: "effect-user", groupId: 7, traits: { name: "Effect Inc", objectTypeId: 1 } }),
    analytics.alias({ previousId: "effect-device", userId: "effect-user" })
  ], (call) => call)
  yield* analytics.flush
  return { sent: sent.length, failed: yield* Ref.get(failures) }
}).pipe(
  Effect.scoped,
  Effect.provide(AnalyticsClient.layer(options).pipe(Layer.provide(NodeTransport.layer())))
)
const effectOutcome = await Effect.runPromise(program)

// 3. What arrived.
console.log(`\nPromise facade: ${outcomes.delivered} delivered, ${outcomes.failed} failed`)
console.log(`Effect API:     ${effectOutcome.sent - effectOutcome.failed} delivered, ${effectOutcome.failed} failed`)
if (collector !== undefined) {
  const stats = collector.stats()
  console.log(
    `\nThe collector received ${stats.messages} messages in ${stats.requests} batches (${stats.bytes} bytes):`
  )
  for (const [type, count] of Object.entries(stats.byType)) console.log(`  ${type.padEnd(9)} ${count}`)
  console.log(`  retries ${stats.retries}, duplicates ${stats.duplicates}, answers ${JSON.stringify(stats.answers)}`)
  const expected = outcomes.delivered + effectOutcome.sent - effectOutcome.failed
  if (stats.messages !== expected || outcomes.failed > 0 || effectOutcome.failed > 0) {
    console.error(`\nExpected ${expected} messages without failures: something was lost.`)
    process.exitCode = 1
  }
  if (inspect) {
    console.log(`\nThe collector stays open: see this run at ${collector.inspectorUrl}\nCtrl-C to stop.`)
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve)
      process.once("SIGTERM", resolve)
    })
  } else {
    console.log(
      "\nWatch a run live in your browser: npm run demo -- --inspect (keeps the collector and its inspector open),\n" +
        "or run `npm run collector` (the `cdp-analytics collector` command) in another terminal and send to it:\n" +
        "  CUSTOMERIO_HOST=http://127.0.0.1:8080 CUSTOMERIO_WRITE_KEY=any npm run demo -- --live"
    )
  }
  await collector.close()
}
