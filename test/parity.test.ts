/**
 * Drop-in parity with `@customerio/cdp-analytics-node` 0.5.9, measured rather than remembered: the same calls go
 * through the original and through this library's facade to one real server on 127.0.0.1, and the messages must
 * agree field by field. What may differ is what must differ: each message's own `messageId` and `timestamp`, and
 * `context.library` and `_metadata`, which name the library that sent it.
 */
import { Analytics as Original } from "@customerio/cdp-analytics-node"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { Analytics } from "../src/index.ts"
import { type Sink, start } from "./utils/sink.ts"

const writeKey = "wk_parity_5ecret"

type Call = readonly [type: "identify" | "track" | "page" | "screen" | "group" | "alias", params: any]

const minimal: ReadonlyArray<Call> = [
  ["identify", { userId: "u1" }],
  ["identify", { anonymousId: "a1" }],
  ["track", { userId: "u1", event: "Signed Up" }],
  ["page", { userId: "u1" }],
  ["page", { anonymousId: "a1", name: "Home", category: "Docs" }],
  ["screen", { userId: "u1" }],
  ["screen", { userId: "u1", name: "Settings", category: "App" }],
  ["group", { userId: "u1", groupId: "g1" }],
  ["group", { anonymousId: "a1", groupId: "g1" }],
  ["alias", { userId: "u2", previousId: "u1" }]
]

const full: ReadonlyArray<Call> = [
  ["identify", {
    userId: "u1",
    anonymousId: "a1",
    traits: { email: "cool.person@example.com", plan: "Enterprise", friends: 42 },
    context: { ip: "203.0.113.7", locale: "en-GB" },
    integrations: { All: false, Mixpanel: true },
    timestamp: "2024-01-02T03:04:05.000Z",
    messageId: "m-identify"
  }],
  ["track", {
    userId: "u1",
    event: "added_to_cart",
    properties: { product: "shoes", revenue: 39.95, nested: { a: [1, 2, { b: null }] } },
    context: { ip: "203.0.113.7" },
    integrations: { "Google Analytics": false },
    timestamp: "2024-01-02T03:04:05.000Z",
    messageId: "m-track"
  }],
  ["page", {
    userId: "u1",
    name: "Customer.io CDP",
    category: "Docs",
    properties: { url: "https://customer.io/cdp/", title: "Customer.io CDP" },
    timestamp: "2024-01-02T03:04:05.000Z",
    messageId: "m-page"
  }],
  ["screen", {
    anonymousId: "a1",
    name: "Home",
    properties: { variant: "b" },
    timestamp: "2024-01-02T03:04:05.000Z",
    messageId: "m-screen"
  }],
  ["group", {
    userId: "u1",
    groupId: "56",
    traits: { name: "Initech", objectTypeId: 2 },
    timestamp: "2024-01-02T03:04:05.000Z",
    messageId: "m-group"
  }],
  ["alias", {
    userId: "identified@example.com",
    previousId: "anonymous_user",
    context: { ip: "203.0.113.7" },
    timestamp: "2024-01-02T03:04:05.000Z",
    messageId: "m-alias"
  }]
]

let ours: Sink
let theirs: Sink

const send = async (
  client: { [K in Call[0]]: (params: any) => void } & { closeAndFlush(): Promise<void> },
  calls: ReadonlyArray<Call>
) => {
  for (const [type, params] of calls) client[type](structuredClone(params))
  await client.closeAndFlush()
}

/** The fields that name the sender or the moment, which may (and must) differ. */
const comparable = (message: Record<string, any>) => {
  const { messageId: _id, timestamp: _timestamp, _metadata, context, ...rest } = message
  const { library, ...ownContext } = context ?? {}
  return { ...rest, context: ownContext, libraryNamed: typeof library?.name === "string" }
}

beforeAll(async () => {
  ours = await start()
  theirs = await start()
  const calls = [...minimal, ...full]
  await send(new Analytics({ writeKey, host: ours.host, maxEventsInBatch: 100 }), calls)
  await send(new Original({ writeKey, host: theirs.host, maxEventsInBatch: 100 }), calls)
})

afterAll(async () => {
  await Promise.all([ours?.close(), theirs?.close()])
})

describe("parity with @customerio/cdp-analytics-node", () => {
  it("both received every call, in order", () => {
    assert.strictEqual(ours.messages().length, minimal.length + full.length)
    assert.strictEqual(theirs.messages().length, minimal.length + full.length)
  })

  it("calls with only the required fields: the same messages, defaults included", () => {
    for (const [i, [type]] of minimal.entries()) {
      assert.deepStrictEqual(comparable(ours.messages()[i]), comparable(theirs.messages()[i]), `${type} #${i}`)
    }
  })

  it("calls with every field: the same messages, given messageIds and timestamps kept", () => {
    for (const [j, [type, params]] of full.entries()) {
      const i = minimal.length + j
      assert.deepStrictEqual(comparable(ours.messages()[i]), comparable(theirs.messages()[i]), type)
      assert.strictEqual(ours.messages()[i].messageId, params.messageId)
      assert.strictEqual(ours.messages()[i].timestamp, params.timestamp)
      assert.strictEqual(theirs.messages()[i].messageId, params.messageId)
    }
  })

  it("both name themselves in context.library and _metadata", () => {
    const [mine] = ours.messages()
    const [original] = theirs.messages()
    assert.strictEqual(mine.context.library.name, "cdp-analytics-effect")
    assert.strictEqual(original.context.library.name, "@customerio/cdp-analytics-node")
    assert.deepStrictEqual(Object.keys(mine._metadata).toSorted(), Object.keys(original._metadata).toSorted())
  })
})
