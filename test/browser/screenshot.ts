/**
 * `npm run inspector:screenshot`: the picture of the inspector in docs/collector.md. A collector with a tracking plan
 * receives what the demo's kind of application sends through the real client, with one 503 injected so a retry
 * shows; Chromium opens the page, selects a message the plan does not allow, and the page is saved as
 * docs/collector-inspector.png.
 */
import { Schema } from "effect"
import { fileURLToPath } from "node:url"
import * as Collector from "../../src/Collector.ts"
import { Analytics } from "../../src/index.ts"
import * as TrackingPlan from "../../src/TrackingPlan.ts"
import { executablePath, hasChromium, installCommand, launch } from "./browser.ts"

if (!hasChromium) {
  console.error(`${executablePath} is missing: install it with ${installCommand}`)
  process.exit(1)
}

const output = fileURLToPath(new URL("../../docs/collector-inspector.png", import.meta.url))

const plan = TrackingPlan.make({
  events: {
    "Order Completed": Schema.Struct({ orderId: Schema.String, revenue: Schema.Number }),
    "Product Viewed": Schema.Struct({ sku: Schema.String }),
    "Signed Up": Schema.Struct({ plan: Schema.Literals(["free", "pro"]) })
  },
  unknownEvents: "reject"
})

const collector = await Collector.start({ writeKey: "wk_demo", trackingPlan: plan })
const browser = await launch()
const page = await browser.newPage({ viewport: { width: 1360, height: 820 } })
await page.goto(collector.inspectorUrl!)
await page.waitForFunction(() => (globalThis as any).document.getElementById("connection")?.textContent === "live")

collector.script([Collector.Answer.status(503)])
const analytics = new Analytics({ writeKey: "wk_demo", host: collector.url, flushInterval: 50 })
analytics.identify({ userId: "019mr8mf4r", traits: { name: "Cool Person", email: "cool.person@example.com" } })
analytics.track({ userId: "019mr8mf4r", event: "Product Viewed", properties: { sku: "shoes-9" } })
analytics.track({ userId: "019mr8mf4r", event: "Order Completed", properties: { orderId: "o-1", revenue: 39.95 } })
await analytics.flush()
analytics.page({ anonymousId: "48d213bb-95c3-4f8d-af97-86b2b404dcfe", name: "Pricing", category: "Docs" })
analytics.track({ userId: "97234974", event: "Signed Up", properties: { plan: "enterprise" } })
analytics.track({ userId: "97234974", event: "Order Completed", properties: { orderId: "o-2", revenue: "12.50" } })
analytics.track({ userId: "019mr8mf4r", event: "Backfilled", timestamp: new Date("2024-01-15T10:00:00Z") })
analytics.group({ userId: "97234974", groupId: "56", traits: { name: "Initech" } })
await analytics.closeAndFlush()

await page.waitForFunction(() => (globalThis as any).document.getElementById("c-messages")?.textContent === "8")
// "Signed Up" with a plan the tracking plan does not know.
await page.locator("#list .row.message").filter({ hasText: "Signed Up" }).first().click()
await page.screenshot({ path: output })
console.log(`wrote ${output}`)
await browser.close()
await collector.close()
