/**
 * The inspector in a real browser (Debian's Chromium through playwright-core): the page is served by a collector on
 * 127.0.0.1, fed by real HTTP requests, and checked on what it shows. No assertion depends on timing: the 100 000
 * messages test prints how long a filter took and asserts what the filter shows.
 */
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Http from "node:http"
import type { Browser, Page } from "playwright-core"
import * as Collector from "../../src/Collector.ts"
import { Analytics } from "../../src/index.ts"
import { hasChromium, launch, noticeIfMissing } from "./browser.ts"

// The functions given to page.evaluate run in the page; the project compiles without the DOM's types.
declare const document: any
declare const window: any

noticeIfMissing(
  "test/browser/inspector.test.ts (live updates, filters, detail view, Host and token refusals, faults from the page, 100 000 messages)"
)

const writeKey = "wk_inspector_5ecret"
const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`

const post = (url: string, batch: ReadonlyArray<unknown>, headers: Record<string, string> = {}) =>
  fetch(`${url}/v1/batch`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json", ...headers },
    body: JSON.stringify({ batch, sentAt: new Date().toISOString() })
  })

const track = (n: number, extra: Record<string, unknown> = {}) => ({
  type: "track",
  event: "Order Completed",
  userId: `user-${n}`,
  messageId: `m-${n}`,
  timestamp: new Date().toISOString(),
  properties: { n },
  ...extra
})

/** A request with any Host header (fetch may not set one). */
const rawGet = (port: number, path: string, host: string) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const request = Http.request({ host: "127.0.0.1", port, path, headers: { host } }, (response) => {
      let body = ""
      response.setEncoding("utf8")
      response.on("data", (chunk) => body += chunk)
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on("error", reject)
    request.end()
  })

/** Waits until the summary line says exactly this. */
const summaryIs = (page: Page, text: string, timeout = 10_000) =>
  page.waitForFunction((expected) => document.getElementById("summary")?.textContent === expected, text, {
    timeout
  })

/** Waits until a counter (`received`, `requests`, …) shows `count`: the rows before it have reached the page. */
const counterIs = (page: Page, counter: string, count: number) =>
  page.waitForFunction(
    ([id, expected]) => document.getElementById(id)?.textContent === expected,
    [`c-${counter}`, String(count)] as const
  )

/** A request whose body is not JSON: answered 400, recorded with no messages. */
const postUnreadable = async (url: string) => {
  const response = await fetch(`${url}/v1/batch`, { method: "POST", headers: { authorization }, body: "{" })
  assert.strictEqual(response.status, 400)
}

const rowTexts = (page: Page, kind: "message" | "request") => page.locator(`#list .row.${kind}`).allTextContents()

let browser: Browser

describe.skipIf(!hasChromium)("the inspector in Chromium", () => {
  beforeAll(async () => {
    browser = await launch()
  })
  afterAll(async () => {
    await browser?.close()
  })

  const open = async (url: string) => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } })
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(error.message))
    await page.goto(url)
    await page.waitForFunction(() => document.getElementById("connection")?.textContent === "live")
    return { page, errors }
  }

  it("shows messages sent after it opened without a reload, and pauses", async () => {
    const collector = await Collector.start({ writeKey })
    const { page, errors } = await open(collector.inspectorUrl!)
    await summaryIs(page, "No messages yet. Point a client at the address above.")
    await page.evaluate(() => Object.assign(window, { notReloaded: true }))

    await post(collector.url, [track(1), {
      type: "identify",
      userId: "user-1",
      messageId: "i-1",
      traits: { plan: "pro" }
    }])
    await summaryIs(page, "Showing all 2 messages in 1 request")
    const rows = await rowTexts(page, "message")
    assert.strictEqual(rows.length, 2)
    assert.include(rows[0], "Order Completed")
    assert.include(rows[1], "identify")
    assert.include((await rowTexts(page, "request"))[0], "200")
    assert.strictEqual(await page.locator("#c-messages").textContent(), "2")
    assert.strictEqual(await page.locator("#c-requests").textContent(), "1")

    // Paused, the list stays as it is while the counters go on; resumed, it catches up.
    await page.getByRole("button", { name: "Pause" }).click()
    await post(collector.url, [track(2), track(3)])
    await summaryIs(page, "Showing all 2 messages in 1 request. Paused: 2 new messages waiting.")
    await page.waitForFunction(() => document.getElementById("c-messages")?.textContent === "4")
    assert.strictEqual((await rowTexts(page, "message")).length, 2)
    await page.getByRole("button", { name: "Resume" }).click()
    await summaryIs(page, "Showing all 4 messages in 2 requests")
    assert.isTrue(await page.evaluate(() => "notReloaded" in window), "the page was not reloaded")
    assert.deepStrictEqual(errors, [])
    await page.close()
    await collector.close()
  })

  it("keeps what the collector keeps while paused: what waits is at most what a Resume would show", async () => {
    const collector = await Collector.start({ writeKey, retain: 3 })
    const { page, errors } = await open(collector.inspectorUrl!)
    await page.getByRole("button", { name: "Pause" }).click()
    // One at a time, each reaching the page before the next is sent (the counters come after the rows).
    for (let i = 1; i <= 10; i++) {
      await post(collector.url, [track(i)])
      await counterIs(page, "received", i)
    }
    // Only what a Resume would show waits: the 3 latest.
    assert.match(await page.locator("#summary").textContent() ?? "", / Paused: 3 new messages waiting\.$/)
    await page.getByRole("button", { name: "Resume" }).click()
    await summaryIs(page, "Showing all 3 messages in 3 requests (the collector keeps the latest 3 of the 10 received)")
    assert.deepStrictEqual(errors, [])
    await page.close()
    await collector.close()
  })

  it("forgets requests beyond what the collector keeps, those without messages too", async () => {
    const collector = await Collector.start({ writeKey, retain: 3 })
    const { page, errors } = await open(collector.inspectorUrl!)
    await post(collector.url, [track(1)])
    // Bodies that are not JSON: requests without messages, which only the count of requests can bound.
    for (let i = 2; i <= 6; i++) {
      await postUnreadable(collector.url)
      await counterIs(page, "requests", i)
    }
    await summaryIs(page, "Showing all 0 messages in 3 requests")
    assert.strictEqual((await rowTexts(page, "request")).length, 3)
    // The next accepted message shows under its request, after the page forgot the older ones.
    await post(collector.url, [track(7)])
    await summaryIs(page, "Showing all 1 message in 3 requests")
    assert.deepStrictEqual(errors, [])
    await page.close()
    await collector.close()
  })

  it("a request that lost some of its messages shows the rest, and one without messages stays while kept", async () => {
    const collector = await Collector.start({ writeKey, retain: 3 })
    const { page, errors } = await open(collector.inspectorUrl!)
    // A filter is on while the page forgets: its count must stay exact.
    await page.locator("#f-name").fill("order")
    await post(collector.url, [track(1), track(2)])
    await summaryIs(page, "Showing 2 of 2 messages")
    await post(collector.url, [track(3), track(4)])
    await summaryIs(page, "Showing 3 of 3 messages (the collector keeps the latest 3 of the 4 received)")
    assert.strictEqual(await page.locator("#list .row").count(), 5) // 2 requests, 3 messages
    await page.close()

    const small = await Collector.start({ writeKey, retain: 2 })
    const second = await open(small.inspectorUrl!)
    // One at a time, each reaching the page before the next is sent (the counters come after the rows).
    await post(small.url, [track(5)])
    await counterIs(second.page, "requests", 1)
    await postUnreadable(small.url)
    await counterIs(second.page, "requests", 2)
    await post(small.url, [track(6), track(7)])
    // The collector keeps the last 2 requests (one of them without messages) and messages: so does the page.
    await summaryIs(
      second.page,
      "Showing all 2 messages in 2 requests (the collector keeps the latest 2 of the 3 received)"
    )
    assert.deepStrictEqual([...errors, ...second.errors], [])
    await second.page.close()
    await small.close()
    await collector.close()
  })

  it("keeps no more message JSON than the collector does", async () => {
    // Messages near 32 KB: the collector keeps 64 MB of their JSON, fewer than 2 400 of them, and so does the page.
    const big = await Collector.start({ writeKey })
    const { page, errors } = await open(big.inspectorUrl!)
    const filler = "x".repeat(30_000)
    for (let r = 0; r < 160; r++) {
      const response = await post(big.url, Array.from({ length: 15 }, (_, k) => track(r * 15 + k, { filler })))
      assert.strictEqual(response.status, 200)
    }
    const state = (await (await fetch(`${big.url}/inspector/api/state`)).json()) as {
      readonly counters: { readonly received: number }
      readonly retained: { readonly messages: number }
    }
    assert.strictEqual(state.counters.received, 2_400)
    assert.isBelow(state.retained.messages, 2_400)
    const kept = state.retained.messages
    const requests = 160 - Math.floor((2_400 - kept) / 15) // those that still have a message kept
    await summaryIs(
      page,
      `Showing all ${kept.toLocaleString("en-US")} messages in ${requests} requests (the collector keeps the latest ${
        kept.toLocaleString("en-US")
      } of the 2,400 received)`
    )
    assert.deepStrictEqual(errors, [])
    await page.close()
    await big.close()
  }, 60_000)

  it("filters by type, user, event name and free text, and combines them", async () => {
    const collector = await Collector.start({ writeKey })
    await post(collector.url, [
      track(1, { event: "Order Completed" }),
      track(2, { event: "Signed Up" }),
      { type: "identify", userId: "user-1", messageId: "i-1", traits: { email: "ada@example.com" } },
      { type: "page", anonymousId: "anon-7", name: "Pricing", messageId: "p-1" },
      { type: "screen", userId: "user-2", name: "Settings", messageId: "s-1" }
    ])
    const { page } = await open(collector.inspectorUrl!)
    await summaryIs(page, "Showing all 5 messages in 1 request")

    await page.getByLabel("Type").selectOption("track")
    await summaryIs(page, "Showing 2 of 5 messages")
    await page.getByLabel("Event or name").fill("signed")
    await summaryIs(page, "Showing 1 of 5 messages")
    assert.include((await rowTexts(page, "message"))[0], "Signed Up")

    await page.getByLabel("Type").selectOption("")
    await page.getByLabel("Event or name").fill("")
    await page.getByLabel("User").fill("anon-7")
    await summaryIs(page, "Showing 1 of 5 messages")
    assert.include((await rowTexts(page, "message"))[0], "Pricing")

    await page.getByLabel("User").fill("user-1")
    await summaryIs(page, "Showing 2 of 5 messages")
    await page.getByLabel("Text").fill("ADA@example")
    await summaryIs(page, "Showing 1 of 5 messages")
    assert.include((await rowTexts(page, "message"))[0], "identify")

    // Nothing matches: no row at all, not even the request's.
    await page.getByLabel("Text").fill("no such thing")
    await summaryIs(page, "Showing 0 of 5 messages")
    assert.strictEqual(await page.locator("#list .row").count(), 0)

    // The "/" key goes to the text filter.
    await page.getByLabel("Text").fill("")
    await page.locator("#list").focus()
    await page.keyboard.press("/")
    assert.strictEqual(await page.evaluate(() => document.activeElement?.id), "f-text")
    await page.close()
    await collector.close()
  })

  it("opens a message's JSON and checks, and a request's redacted headers, with the mouse or the keyboard", async () => {
    const collector = await Collector.start({ writeKey })
    await post(collector.url, [
      track(1, { properties: { revenue: 42.5, sku: "<b>not markup</b>" } }),
      { type: "track", anonymousId: "a-1", messageId: "m-1", event: "Order Completed" } // a copy, no timestamp
    ], { "x-retry-count": "0" })
    const { page } = await open(collector.inspectorUrl!)
    await summaryIs(page, "Showing all 2 messages in 1 request")

    await page.locator("#list .row.message").first().click()
    const detail = page.locator("#detail")
    await detail.getByText("\"revenue\": 42.5").waitFor()
    assert.include(await detail.textContent(), "Checks: all passed")
    // A payload is text, never markup.
    assert.include(await detail.locator("pre").textContent(), "<b>not markup</b>")
    assert.strictEqual(await detail.locator("pre b").count(), 0)

    // Keyboard: down to the copy, Enter into the details, Escape back to the list.
    await page.keyboard.press("ArrowDown")
    await detail.getByText("was accepted before").waitFor()
    const text = await detail.textContent()
    assert.include(text, "outcome")
    assert.include(text, "duplicate")
    assert.include(text, "no \"timestamp\"")
    await page.keyboard.press("Enter")
    assert.strictEqual(await page.evaluate(() => document.activeElement?.id), "detail")
    await page.keyboard.press("Escape")
    assert.strictEqual(await page.evaluate(() => document.activeElement?.id), "list")

    // The request: its headers, with the key redacted; the key is nowhere on the page.
    await page.keyboard.press("Home")
    await detail.getByText("Request #1").waitFor()
    assert.include(await detail.textContent(), "authorization<redacted>")
    assert.notInclude(await page.content(), writeKey)
    assert.notInclude(await page.content(), authorization.slice(6))
    await page.close()
    await collector.close()
  })

  it("refuses a foreign Host header, and fault controls without the token", async () => {
    const collector = await Collector.start({ writeKey })
    for (const path of ["/", "/inspector/api/state", "/inspector/api/events", "/v1/batch"]) {
      const refused = await rawGet(collector.port, path, `attacker.example:${collector.port}`)
      assert.strictEqual(refused.status, 403, path)
      assert.include(refused.body, "DNS rebinding")
    }
    // Its own address, by name too, is fine.
    assert.strictEqual((await rawGet(collector.port, "/", `localhost:${collector.port}`)).status, 200)
    assert.strictEqual((await rawGet(collector.port, "/", `127.0.0.1:${collector.port}`)).status, 200)

    // Without the token the page is read-only, and the API says no.
    const { page } = await open(collector.url)
    await page.locator("#read-only").waitFor({ state: "visible" })
    assert.isTrue(await page.getByRole("button", { name: "Apply" }).isDisabled())
    assert.isTrue(await page.getByRole("button", { name: "Clear" }).isDisabled())
    const answer = await page.evaluate(async () => {
      const response = await fetch("/inspector/api/faults", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ fault: "503", count: 5 })
      })
      return { status: response.status, body: await response.text() }
    })
    assert.strictEqual(answer.status, 403)
    assert.include(answer.body, "token")
    const wrong = await fetch(`${collector.url}/inspector/api/faults`, {
      method: "DELETE",
      headers: { "x-collector-token": "not-the-token" }
    })
    assert.strictEqual(wrong.status, 403)
    assert.deepStrictEqual(await (await fetch(`${collector.url}/inspector/api/faults`)).json(), { pending: [] })
    assert.strictEqual((await post(collector.url, [track(1)])).status, 200, "nothing was queued")
    await page.close()
    await collector.close()
  })

  it("a fault set from the page makes the client retry, and the retry shows up", async () => {
    const collector = await Collector.start({ writeKey })
    const { page } = await open(collector.inspectorUrl!)
    await page.getByRole("button", { name: "Apply" }).waitFor()
    await page.waitForFunction(() => !document.getElementById("fault-apply").disabled)
    await page.getByLabel("Answer", { exact: true }).selectOption("503")
    await page.getByLabel("Answer the next").fill("1")
    await page.getByRole("button", { name: "Apply" }).click()
    await page.getByText("Next requests: 503.").waitFor()

    const analytics = new Analytics({ writeKey, host: collector.url, flushInterval: 20, maxRetries: 3 })
    const delivered = new Promise<unknown>((resolve) =>
      analytics.track({ userId: "user-1", event: "Order Completed" }, resolve)
    )
    await analytics.closeAndFlush()
    assert.isUndefined(await delivered)

    await summaryIs(page, "Showing all 2 messages in 2 requests")
    const requests = await rowTexts(page, "request")
    // Newest first: the retry, answered 200, then the first try, answered 503 by the fault.
    assert.include(requests[0], "retry 1")
    assert.include(requests[0], "200")
    assert.include(requests[1], "503 (fault)")
    assert.notInclude(requests[1], "retry")
    assert.strictEqual(await page.locator("#c-retries").textContent(), "1")
    assert.strictEqual(await page.locator("#c-answers").textContent(), "200: 1 · 503: 1")
    await page.getByText("No fault queued").waitFor()
    assert.deepStrictEqual(collector.requests().map((r) => [r.status, r.retryCount ?? 0]), [[503, 0], [200, 1]])

    // Clear empties what is queued.
    await page.getByLabel("Answer the next").fill("3")
    await page.getByRole("button", { name: "Apply" }).click()
    await page.getByText("Next requests: 503 × 3.").waitFor()
    await page.getByRole("button", { name: "Clear" }).click()
    await page.getByText("No fault queued").waitFor()
    assert.strictEqual((await post(collector.url, [track(9)])).status, 200)
    await page.close()
    await collector.close()
  })

  it("stays responsive with 100 000 messages: exact counters, a virtual list, filters that finish", async () => {
    const total = 100_000
    const perRequest = 500
    const collector = await Collector.start({ writeKey })
    const { page, errors } = await open(collector.inspectorUrl!)
    const message = (i: number) =>
      i % 10 === 0
        ? { type: "identify", userId: `user-${i % 1000}`, messageId: `m${i}`, traits: { i } }
        : { type: "track", userId: `user-${i % 1000}`, event: `Event ${i % 7}`, messageId: `m${i}`, properties: { i } }
    // Four requests in flight at a time, as a client would.
    let next = 0
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (next < total) {
        const from = next
        next += perRequest
        const response = await post(collector.url, Array.from({ length: perRequest }, (_, k) => message(from + k)))
        assert.strictEqual(response.status, 200)
      }
    }))
    await summaryIs(page, `Showing all 100,000 messages in ${total / perRequest} requests`, 120_000)
    assert.strictEqual(await page.locator("#c-messages").textContent(), "100,000")
    assert.strictEqual(await page.locator("#c-requests").textContent(), "200")
    // Only the rows in view exist.
    assert.isBelow(await page.locator("#list .row").count(), 100)
    // A page opened now catches up with everything the collector keeps, in steps.
    const late = await open(collector.url)
    await summaryIs(late.page, `Showing all 100,000 messages in ${total / perRequest} requests`, 120_000)
    await late.page.close()

    /** Applies a filter the way typing does and returns how long the page took to filter and draw. */
    const measure = async (id: string, value: string) =>
      page.evaluate(([inputId, inputValue]) => {
        const input = document.getElementById(inputId)
        const started = performance.now()
        input.value = inputValue
        input.dispatchEvent(new Event(input.tagName === "SELECT" ? "change" : "input", { bubbles: true }))
        return performance.now() - started
      }, [id, value] as const)

    const timings: Array<string> = []
    const expectCount = (count: number) =>
      summaryIs(page, `Showing ${count.toLocaleString("en-US")} of 100,000 messages`)

    timings.push(`type=identify ${(await measure("f-type", "identify")).toFixed(1)} ms`)
    await expectCount(total / 10)
    const identify = await rowTexts(page, "message")
    assert.isTrue(identify.length > 0 && identify.every((row) => row.startsWith("identify")))

    timings.push(`+ user "user-42" ${(await measure("f-user", "user-42")).toFixed(1)} ms`)
    // user-42 and user-420…user-429, identify only: i % 10 === 0 leaves user-420 only.
    const expectedUser = Array.from({ length: total }, (_, i) => i)
      .filter((i) => i % 10 === 0 && `user-${i % 1000}`.includes("user-42")).length
    await expectCount(expectedUser)

    await measure("f-type", "")
    await measure("f-user", "")
    timings.push(`event "event 3" ${(await measure("f-name", "event 3")).toFixed(1)} ms`)
    await expectCount(Array.from({ length: total }, (_, i) => i).filter((i) => i % 10 !== 0 && i % 7 === 3).length)

    await measure("f-name", "")
    timings.push(`free text "m4242\\"" ${(await measure("f-text", "m4242\"")).toFixed(1)} ms`)
    await expectCount(1)
    assert.include((await rowTexts(page, "message"))[0], "Event 0") // 4242 % 7 === 0

    timings.push(`clear ${(await measure("f-text", "")).toFixed(1)} ms`)
    await summaryIs(page, "Showing all 100,000 messages in 200 requests")
    console.log(`inspector with 100,000 messages, time to apply a filter (filter + draw): ${timings.join(", ")}`)
    assert.deepStrictEqual(errors, [])
    await page.close()
    await collector.close()
  }, 180_000)
})
