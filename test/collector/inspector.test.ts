/**
 * The collector's inspector over HTTP, without a browser: the page and its assets, the live feed (Server-Sent
 * Events), the JSON API, the fault controls and their token, the `Host` check, and what the store retains. Real
 * sockets on 127.0.0.1, so `it.live`.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Schema from "effect/Schema"
import { readFileSync } from "node:fs"
import * as Http from "node:http"
import * as Vm from "node:vm"
import * as Collector from "../../src/Collector.ts"
import * as Assets from "../../src/internal/collector/assets.ts"
import { hostCheck, isLoopback, parseHost, reachableHost } from "../../src/internal/collector/security.ts"
import * as TrackingPlan from "../../src/TrackingPlan.ts"
import { generate } from "../utils/inspectorAssets.ts"

const writeKey = "wk_inspector_api_5ecret"
const authorization = `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`
const token = "test-token-0123456789"

const track = (n: number, extra: Record<string, unknown> = {}) => ({
  type: "track",
  event: "Order Completed",
  userId: `u${n}`,
  messageId: `m${n}`,
  timestamp: new Date().toISOString(),
  ...extra
})

const post = (url: string, batch: ReadonlyArray<unknown>, headers: Record<string, string> = {}) =>
  Effect.promise(() =>
    fetch(`${url}/v1/batch`, {
      method: "POST",
      headers: { authorization, "content-type": "application/json", ...headers },
      body: JSON.stringify({ batch })
    }).then((response) => response.status)
  )

const get = (url: string, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(url, { headers })
    return { status: response.status, headers: response.headers, body: await response.text() }
  })

const getJson = (url: string, headers: Record<string, string> = {}) =>
  Effect.map(get(url, headers), (response) => ({ status: response.status, json: JSON.parse(response.body) }))

const control = (url: string, method: "POST" | "DELETE", body?: unknown, headers: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const response = await fetch(`${url}/inspector/api/faults`, {
      method,
      headers: { "x-collector-token": token, "content-type": "application/json", ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) })
    })
    return { status: response.status, json: (await response.json()) as any }
  })

const rawGet = (port: number, path: string, host: string) =>
  Effect.promise(() =>
    new Promise<number>((resolve, reject) => {
      const request = Http.request({ host: "127.0.0.1", port, path, headers: { host } }, (response) => {
        response.resume()
        resolve(response.statusCode ?? 0)
      })
      request.on("error", reject)
      request.end()
    })
  )

interface SseEvent {
  readonly event: string
  readonly id: string | undefined
  readonly data: any
}

/** Opens the live feed and reads events until `until` holds for what was read; then closes it. */
const readFeed = (
  url: string,
  until: (events: ReadonlyArray<SseEvent>) => boolean,
  headers: Record<string, string> = {}
) =>
  Effect.promise(async () => {
    const controller = new AbortController()
    const response = await fetch(`${url}/inspector/api/events`, { headers, signal: controller.signal })
    assert.strictEqual(response.headers.get("content-type"), "text/event-stream")
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
    const events: Array<SseEvent> = []
    let buffer = ""
    while (!until(events)) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += value
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const field = (name: string) =>
          block.split("\n").find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2)
        const data = field("data")
        if (data !== undefined) {
          events.push({ event: field("event") ?? "message", id: field("id"), data: JSON.parse(data) })
        }
      }
    }
    controller.abort()
    return events
  })

const collector = (options: Partial<Collector.Options> = {}) => Collector.make({ writeKey, token, ...options })

describe("the inspector's page and API", () => {
  it.live("serves the page, its script and style from the package, with a strict Content-Security-Policy", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      assert.strictEqual(c.inspectorUrl, `${c.url}/?token=${token}`)
      const page = yield* get(`${c.url}/`)
      assert.strictEqual(page.status, 200)
      assert.strictEqual(page.headers.get("content-type"), "text/html; charset=utf-8")
      assert.include(page.headers.get("content-security-policy"), "default-src 'none'; script-src 'self'")
      assert.strictEqual(page.headers.get("x-frame-options"), "DENY")
      assert.strictEqual(page.body, Assets.html)
      // Nothing from elsewhere: every URL in the page is the collector's own.
      assert.notMatch(page.body, /https?:\/\//)
      const script = yield* get(`${c.url}/inspector/app.js`)
      assert.strictEqual(script.headers.get("content-type"), "text/javascript; charset=utf-8")
      assert.strictEqual(script.body, Assets.script)
      assert.strictEqual((yield* get(`${c.url}/inspector/app.css`)).body, Assets.style)
      assert.strictEqual((yield* get(`${c.url}/inspector/nothing`)).status, 404)
      assert.strictEqual((yield* get(`${c.url}/elsewhere`)).status, 404)
    }))

  it("ships the assets generated from their sources, and a script that parses", () => {
    assert.strictEqual(
      readFileSync(new URL("../../src/internal/collector/assets.ts", import.meta.url), "utf8"),
      generate(),
      "src/internal/collector/assets.ts is stale: run npm run inspector:assets"
    )
    assert.doesNotThrow(() => new Vm.Script(Assets.script))
  })

  it.live("the state and the lists: counters, requests and messages with their checks, headers redacted", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      assert.strictEqual(yield* post(c.url, [track(1), track(2, { timestamp: undefined })]), 200)
      assert.strictEqual(yield* post(c.url, [track(1)], { "x-retry-count": "1", "x-collector-token": token }), 200)
      assert.strictEqual(yield* post(c.url, [track(3)], { authorization: "Basic d3Jvbmc6" }), 401)

      const state = (yield* getJson(`${c.url}/inspector/api/state`)).json
      assert.strictEqual(state.endpoint, `${c.url}/v1/batch`)
      assert.strictEqual(state.control, false)
      assert.deepStrictEqual(state.stats, yield* c.stats)
      assert.deepStrictEqual(state.counters, {
        received: 4,
        errors: 0,
        warnings: 2,
        byRule: { timestamp: 1, duplicate: 1 },
        refusedHosts: 0
      })
      assert.deepStrictEqual(state.retained, { messages: 4, requests: 3 })
      assert.strictEqual(
        (yield* getJson(`${c.url}/inspector/api/state`, { "x-collector-token": token })).json.control,
        true
      )

      const { messages } = (yield* getJson(`${c.url}/inspector/api/messages?after=1&limit=2`)).json
      assert.deepStrictEqual(messages.map((m: any) => [m.seq, m.request, m.outcome]), [[2, 1, "accepted"], [
        3,
        2,
        "duplicate"
      ]])
      assert.deepStrictEqual(messages[1].checks.map((check: any) => check.rule), ["duplicate"])
      assert.strictEqual(messages[0].name, "Order Completed")
      assert.strictEqual(messages[0].json, JSON.stringify(track(2, { timestamp: undefined })))

      const { requests } = (yield* getJson(`${c.url}/inspector/api/requests`)).json
      assert.deepStrictEqual(requests.map((r: any) => [r.seq, r.status, r.first, r.count]), [
        [1, 200, 1, 2],
        [2, 200, 3, 1],
        [3, 401, 4, 1]
      ])
      assert.strictEqual(requests[1].retryCount, 1)
      // Credentials are redacted wherever a request is shown: the write key, a wrong key, the token.
      const everything = JSON.stringify([requests, yield* c.requests])
      assert.notInclude(everything, authorization.slice(6))
      assert.notInclude(everything, "d3Jvbmc6")
      assert.notInclude(everything, token)
      assert.strictEqual(requests[1].headers["x-collector-token"], "<redacted>")
      assert.strictEqual(requests[2].headers["authorization"], "<redacted>")
    }))

  it.live("the live feed: what is retained, then each change; a reconnect resumes after Last-Event-ID", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      yield* post(c.url, [track(1), track(2)])
      const first = yield* readFeed(c.url, (events) => events.some((e) => e.event === "state"))
      assert.deepStrictEqual(first.map((e) => e.event), ["reset", "rows", "state"])
      const rows = first[1]!
      assert.deepStrictEqual(rows.data.messages.map((m: any) => m.messageId), ["m1", "m2"])
      assert.strictEqual(rows.data.requests[0].status, 200)
      assert.strictEqual(first[2]!.data.stats.messages, 2)

      // Resumed from its id: no replay, only what came after.
      const fiber = yield* Effect.forkChild(
        readFeed(c.url, (events) => events.some((e) => e.event === "rows"), { "last-event-id": rows.id! }),
        { startImmediately: true }
      )
      yield* post(c.url, [track(3)]) // before or after it connects: it resumes from the id either way
      const resumed = yield* Fiber.join(fiber)
      assert.notInclude(resumed.map((e) => e.event), "reset")
      const update = resumed.find((e) => e.event === "rows")!
      assert.deepStrictEqual(update.data.messages.map((m: any) => m.messageId), ["m3"])

      // A reset tells the page to start over.
      yield* c.reset
      const afterReset = yield* readFeed(
        c.url,
        (events) => events.some((e) => e.event === "state"),
        { "last-event-id": update.id! }
      )
      assert.deepStrictEqual(afterReset.map((e) => e.event), ["reset", "state"])
    }))

  it.live("fault controls: the token is required, answers are queued, drawn, and cleared", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      const refused = yield* control(c.url, "POST", { fault: "503" }, { "x-collector-token": "wrong" })
      assert.strictEqual(refused.status, 403)
      assert.include(refused.json.error, "token")
      const foreign = yield* control(c.url, "POST", { fault: "503" }, { origin: "http://attacker.example" })
      assert.strictEqual(foreign.status, 403)
      assert.deepStrictEqual((yield* getJson(`${c.url}/inspector/api/faults`)).json, { pending: [] })

      assert.strictEqual((yield* control(c.url, "POST", { fault: "lots" })).status, 400)
      assert.strictEqual((yield* control(c.url, "POST", { fault: "503", count: 0 })).status, 400)
      assert.deepStrictEqual((yield* control(c.url, "POST", { fault: "503", count: 2 })).json, {
        pending: [{ answer: "503", count: 2 }]
      })
      yield* control(c.url, "POST", { fault: 429, retryAfter: 7 }, { origin: c.url })
      yield* control(c.url, "POST", { fault: "413" })
      assert.deepStrictEqual((yield* getJson(`${c.url}/inspector/api/faults`)).json.pending, [
        { answer: "503", count: 2 },
        { answer: "429 Retry-After 7", count: 1 },
        { answer: "413", count: 1 }
      ])
      const statuses = []
      for (let i = 0; i < 4; i++) statuses.push(yield* post(c.url, [track(i)]))
      assert.deepStrictEqual(statuses, [503, 503, 429, 413])
      const retryAfter = (yield* c.requests)[2]
      assert.strictEqual(retryAfter?.fault, "status")

      yield* control(c.url, "POST", { fault: "hang", count: 3 })
      assert.deepStrictEqual((yield* control(c.url, "DELETE")).json, { pending: [] })
      assert.strictEqual(yield* post(c.url, [track(9)]), 200)
    }))

  it.live("refuses a foreign Host header everywhere, counts it, and takes the names it is told to", () =>
    Effect.gen(function*() {
      const c = yield* collector({ allowedHosts: ["host.docker.internal"] })
      for (const path of ["/", "/inspector/api/state", "/v1/batch"]) {
        assert.strictEqual(yield* rawGet(c.port, path, `attacker.example:${c.port}`), 403)
      }
      assert.strictEqual(yield* rawGet(c.port, "/", `127.0.0.1:${c.port + 1}`), 403) // another port
      assert.strictEqual(yield* rawGet(c.port, "/", `localhost:${c.port}`), 200)
      assert.strictEqual(yield* rawGet(c.port, "/", `host.docker.internal:${c.port}`), 200)
      const state = (yield* getJson(`${c.url}/inspector/api/state`)).json
      assert.strictEqual(state.counters.refusedHosts, 4)
      assert.strictEqual(state.counters.lastRefusedHost, `127.0.0.1:${c.port + 1}`)
      assert.strictEqual((yield* c.stats).requests, 0)
    }))

  it.live("a request target that is not a URL gets 400, not a server error", () =>
    Effect.gen(function*() {
      const c = yield* collector()
      assert.strictEqual(yield* rawGet(c.port, "http://[", `127.0.0.1:${c.port}`), 400)
      assert.strictEqual(yield* rawGet(c.port, "/", `127.0.0.1:${c.port}`), 200)
    }))

  it.live("retain keeps the latest messages and requests; counters and waitFor count everything", () =>
    Effect.gen(function*() {
      const c = yield* collector({ retain: 3 })
      for (let i = 1; i <= 5; i++) yield* post(c.url, [track(i)])
      assert.deepStrictEqual((yield* c.messages).map((m) => m.messageId), ["m3", "m4", "m5"])
      assert.strictEqual((yield* c.requests).length, 3)
      assert.strictEqual((yield* c.stats).messages, 5)
      assert.strictEqual((yield* c.waitFor(5)).stats.messages, 5)
      // A forgotten message is still known as seen.
      yield* post(c.url, [track(1)])
      assert.strictEqual((yield* c.stats).duplicates, 1)
      const state = (yield* getJson(`${c.url}/inspector/api/state`)).json
      assert.deepStrictEqual(state.retained, { messages: 3, requests: 3 })
      assert.strictEqual(state.counters.received, 6)
      const { messages } = (yield* getJson(`${c.url}/inspector/api/messages`)).json
      assert.deepStrictEqual(messages.map((m: any) => m.seq), [4, 5, 6])
    }))

  it("a retain that is not a whole number of at least 0 is refused at start, naming the option", async () => {
    for (const retain of [-1, Number.NaN, 1.5]) {
      const error = await Collector.start({ retain }).then(() => undefined, (refused: unknown) => refused)
      assert.instanceOf(error, RangeError)
      assert.include((error as Error).message, `"retain" must be a whole number of at least 0, got ${retain}`)
    }
  })

  it.live("without a write key any key is taken, but a request still needs one; the inspector can be off", () =>
    Effect.gen(function*() {
      const c = yield* Collector.make({ inspector: false })
      assert.isUndefined(c.inspectorUrl)
      assert.strictEqual(yield* post(c.url, [track(1)], { authorization: `Basic ${btoa("any-key:")}` }), 200)
      assert.strictEqual(yield* post(c.url, [track(2)], { authorization: "Bearer x" }), 401)
      assert.strictEqual(yield* post(c.url, [track(3)], { authorization: `Basic ${btoa(":")}` }), 401)
      assert.strictEqual((yield* get(`${c.url}/`)).status, 404)
      assert.strictEqual((yield* get(`${c.url}/inspector/api/state`)).status, 404)
    }))

  it.live("with a tracking plan, each message carries the plan's verdict", () =>
    Effect.gen(function*() {
      const plan = TrackingPlan.make({ events: { "Order Completed": Schema.Struct({ revenue: Schema.Number }) } })
      const c = yield* collector({ trackingPlan: plan })
      yield* post(c.url, [track(1, { properties: { revenue: 1 } }), track(2, { properties: { revenue: "1" } })])
      const { messages } = (yield* getJson(`${c.url}/inspector/api/messages`)).json
      assert.deepStrictEqual(messages[0].checks, [])
      assert.strictEqual(messages[1].checks[0].rule, "plan")
      assert.include(messages[1].checks[0].message, "properties.revenue")
      const state = (yield* getJson(`${c.url}/inspector/api/state`)).json
      assert.isTrue(state.plan)
      assert.deepStrictEqual(state.counters.byRule, { plan: 1 })
    }))
})

describe("the Host check", () => {
  it("takes the listening address, loopback and localhost on its port; on every interface, any IP too", () => {
    const loopback = hostCheck({ host: "127.0.0.1", port: 8080 })
    assert.isTrue(loopback("127.0.0.1:8080"))
    assert.isTrue(loopback("localhost:8080"))
    assert.isTrue(loopback("LOCALHOST:8080"))
    assert.isTrue(loopback("[::1]:8080"))
    assert.isFalse(loopback("localhost:8081"))
    assert.isFalse(loopback("localhost"))
    assert.isFalse(loopback("rebind.attacker.example:8080"))
    assert.isFalse(loopback("192.168.1.5:8080"))
    assert.isFalse(loopback(undefined))
    assert.isFalse(loopback("127.0.0.1:8080@evil"))
    const everywhere = hostCheck({ host: "0.0.0.0", port: 80 })
    assert.isTrue(everywhere("192.168.1.5"))
    assert.isTrue(everywhere("[fe80::1]:80"))
    assert.isFalse(everywhere("rebind.attacker.example"))
    assert.deepStrictEqual(parseHost("[::1]:3000"), { name: "::1", port: 3000 })
    assert.isTrue(isLoopback("127.0.0.1") && isLoopback("::1") && isLoopback("localhost"))
    assert.isFalse(isLoopback("0.0.0.0") || isLoopback("192.168.1.5"))
    assert.strictEqual(reachableHost("0.0.0.0"), "127.0.0.1")
    assert.strictEqual(reachableHost("::"), "[::1]")
  })
})
