/**
 * Every `examples/NN_*.ts` runs as a child process against its own local collector, as `npm run example` runs it:
 * it must exit 0, and exactly the messages it promises must arrive.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import * as Collector from "../src/Collector.ts"
import { limiter } from "./utils/slots.ts"

const directory = fileURLToPath(new URL("../examples/", import.meta.url))
const examples = readdirSync(directory).filter((file) => /^\d\d_.+\.ts$/.test(file)).toSorted()
const writeKey = "example-write-key"

type Check = (messages: ReadonlyArray<Collector.ReceivedMessage>, output: string) => void

/** A nested field of a received message, e.g. `at(message, "traits", "objectTypeId")`. */
const at = (message: unknown, ...path: ReadonlyArray<string>): unknown =>
  path.reduce<unknown>((value, key) => (value as Record<string, unknown> | undefined)?.[key], message)

/** What each example must deliver, one `type who what` line per message (in any order), and what else to check. */
const expected: Record<string, { readonly messages: ReadonlyArray<string>; readonly check?: Check }> = {
  "01_identify.ts": {
    messages: ["identify 019mr8mf4r", "identify 48d213bb-95c3-4f8d-af97-86b2b404dcfe", "identify 019mr8mf4r"],
    check: (messages) => {
      assert.strictEqual(at(messages[0], "traits", "createdAt"), "2024-01-15T10:00:00.000Z")
      assert.strictEqual(at(messages[2], "context", "ip"), "203.0.113.7")
    }
  },
  "02_track.ts": {
    messages: ["track 019mr8mf4r added_to_cart", "track 48d213bb-95c3-4f8d-af97-86b2b404dcfe added_to_cart"]
  },
  "03_page.ts": {
    messages: ["page 019mr8mf4r Customer.io CDP"],
    check: ([page]) => assert.strictEqual(at(page, "properties", "category"), "Docs")
  },
  "04_screen.ts": { messages: ["screen 019mr8mf4r Checkout"] },
  "05_group.ts": {
    messages: ["group 019mr8mf4r 56", "group 019mr8mf4r 2024"],
    check: (messages) => assert.sameMembers(messages.map((m) => at(m, "traits", "objectTypeId")), [1, 2])
  },
  "06_alias.ts": {
    messages: [
      "track anonymous_user Anonymous Event",
      "alias identified@example.com anonymous_user",
      "identify identified@example.com",
      "track identified@example.com Identified Action"
    ]
  },
  "07_eu_region.ts": {
    messages: ["track 019mr8mf4r eu_event"],
    check: (_, output) => {
      // It tells the truth: the request went to the collector here, and names the EU host for production.
      assert.match(output, /sent to http:\/\/127\.0\.0\.1:\d+\/v1\/batch/)
      assert.include(output, `without a host, region "eu" sends to https://cdp-eu.customer.io/v1/batch`)
    }
  },
  "08_development.ts": {
    messages: ["identify dev-user", "track dev-user Tested Integration", "page dev-user Settings"],
    // maxEventsInBatch: 1: one request per message.
    check: (_, output) => assert.strictEqual(output.match(/← 200/g)?.length, 3)
  },
  "09_error_handling.ts": {
    messages: ["track 123 Test Event"],
    check: (_, output) => {
      assert.include(output, `refused: field "event"`)
      assert.include(output, "not queued: ")
      assert.include(output, "Lost Event failed with status 401")
      assert.include(output, "callback: ClientClosed")
      assert.match(output, /message_too_large: .*\n  message: track "Huge Event" [0-9a-f-]{36}/)
      assert.match(output, /dropped after close: track [0-9a-f-]{36}/)
    }
  },
  "10_selecting_destinations.ts": {
    messages: ["track 97234974 Membership Upgraded", "alias 97234974 anon-97234974"],
    check: ([track]) =>
      assert.deepStrictEqual(track?.["integrations"], { "All": false, "Mixpanel": true, "Google Analytics": false })
  },
  "11_backfill.ts": {
    messages: [
      "track 019mr8mf4r Order Completed",
      "track 019mr8mf4r Order Completed",
      "track 97234974 Order Completed"
    ],
    check: (messages) => {
      assert.deepStrictEqual(messages.map((m) => m["timestamp"]), [
        "2023-03-01T09:30:00.000Z",
        "2023-04-17T18:05:00.000Z",
        "2023-05-02T05:00:00.000Z"
      ])
      assert.deepStrictEqual(messages.map((m) => m.messageId), [
        "order-completed-1001",
        "order-completed-1002",
        "order-completed-1003"
      ])
    }
  },
  "12_callbacks.ts": {
    messages: [
      "track 019mr8mf4r Ultimate Played",
      "identify 019mr8mf4r",
      "track 019mr8mf4r Level Up",
      "track 019mr8mf4r Checkout"
    ],
    check: (_, output) => {
      assert.include(output, "callback: delivered track")
      assert.include(output, "event: drained")
      assert.include(output, "audit log written before close returned: 1 entry")
    }
  },
  "20_postgres_outbox.ts": {
    messages: ["track 019mr8mf4r Order Completed"],
    check: ([message], output) => {
      assert.strictEqual(at(message, "properties", "orderId"), "A-1", "only the committed order's event")
      assert.include(output, "A-2: the payment was declined: rolled back")
    }
  },
  "21_tracking_plan.ts": {
    messages: ["identify 019mr8mf4r", "track 019mr8mf4r Signed Up", "track 019mr8mf4r Order Completed"],
    check: (messages, output) => {
      const order = messages.find((m) => m.event === "Order Completed")
      assert.strictEqual(at(order, "properties", "shippedAt"), "2026-12-01T10:00:00.000Z", "the decoded value is sent")
      assert.match(output, /refused: track: "properties\.(orderId|revenue)"/)
      assert.include(output, "event/Order Completed")
    }
  },
  "22_receipts.ts": {
    messages: ["track 019mr8mf4r Contract Signed", "track 019mr8mf4r Page Scrolled"],
    check: (_, output) => {
      assert.match(output, /delivered [0-9a-f-]{36}/)
      assert.include(output, "not delivered: the client is closed")
    }
  },
  "23_before_send.ts": {
    messages: ["track 019mr8mf4r Newsletter Signup"],
    check: ([message], output) => {
      assert.deepStrictEqual(at(message, "properties"), {})
      assert.deepStrictEqual(at(message, "context", "app"), { name: "shop", build: "2026.12.1" })
      assert.include(output, "the health check was dropped")
    }
  },
  "24_effect_enrich.ts": {
    messages: ["identify user-ada", "track user-ada Signed Up"],
    check: (messages, output) => {
      for (const message of messages) {
        assert.match(String(at(message, "context", "traceId")), /^[0-9a-f]{32}$/)
        assert.deepStrictEqual(at(message, "context", "app"), { name: "signup-service" })
      }
      assert.deepStrictEqual(at(messages.find((m) => m.type === "identify"), "traits"), { email: "ada@example.com" })
      assert.match(output, /delivered [0-9a-f-]{36}, traced as [0-9a-f]{32}/)
    }
  },
  "19_outbox.ts": {
    messages: [
      "track 019mr8mf4r Order Completed",
      "track 019mr8mf4r Receipt Emailed",
      "track 019mr8mf4r Session Started"
    ],
    check: (messages, output) => {
      assert.include(output, "not sent yet, but kept in the outbox")
      // The kept messages go first, and the API can drop a re-send by its messageId.
      assert.deepStrictEqual(messages.map((m) => m.event), ["Order Completed", "Receipt Emailed", "Session Started"])
    }
  },
  "13_serverless.ts": {
    messages: ["track 019mr8mf4r Ultimate Played", "track 97234974 Ultimate Played"],
    check: (_, output) => assert.strictEqual(output.match(/invocation answered 200/g)?.length, 2)
  },
  "14_multiple_clients.ts": {
    messages: [
      "track 019mr8mf4r Newsletter Opened",
      "track 019mr8mf4r Project Created",
      "track 019mr8mf4r Invite Sent",
      "track 019mr8mf4r Invite Accepted"
    ]
  },
  "15_effect_app.ts": {
    messages: ["identify user-ada", "track user-ada Signed Up", "identify user-grace", "track user-grace Signed Up"]
  },
  "16_effect_layer_config.ts": { messages: ["track 019mr8mf4r Configured From Env"] },
  "17_effect_http_client.ts": {
    messages: ["track 019mr8mf4r Sent Through Undici", "track 019mr8mf4r Sent Through The Facade"]
  },
  // layerTest records in memory and sends nothing; its node:test suite must pass.
  "18_effect_testing.ts": { messages: [], check: (_, output) => assert.match(output, /# fail 0/) }
}

const line = (m: Collector.ReceivedMessage): string =>
  [m.type, m.userId ?? m.anonymousId, m.event ?? m.name ?? m.groupId ?? m.previousId]
    .filter((part) => part !== undefined)
    .join(" ")

// Loading Effect dominates each child's run time: let the children share V8's compile cache (Node 22.1+).
const compileCache = join(tmpdir(), "cdp-analytics-effect-compile-cache")

// Each child is CPU-bound while it loads; more at once than this only makes them all slower.
const withSlot = limiter(Number(process.env.EXAMPLES_CONCURRENCY ?? 3))

const runExample = (file: string, host: string) =>
  new Promise<{ code: number | null; output: string; stderr: string }>((resolve) => {
    const { CUSTOMERIO_REGION: _region, ...env } = process.env
    execFile(
      process.execPath,
      [`${directory}${file}`],
      {
        env: { ...env, CUSTOMERIO_WRITE_KEY: writeKey, CUSTOMERIO_HOST: host, NODE_COMPILE_CACHE: compileCache },
        // Loading Effect takes a second or two; much more on a busy machine.
        timeout: 40_000
      },
      (error, stdout, stderr) =>
        resolve({
          code: error === null ? 0 : typeof error.code === "number" ? error.code : null,
          output: stdout + stderr,
          stderr
        })
    )
  })

describe("examples", () => {
  it("every example has expectations here", () => {
    assert.deepStrictEqual(examples, Object.keys(expected).toSorted())
  })

  describe.concurrent("run against the local collector", () => {
    for (const file of examples) {
      it(file, () =>
        withSlot(async () => {
          const collector = await Collector.start({ writeKey })
          try {
            const { code, output, stderr } = await runExample(file, collector.url)
            assert.strictEqual(code, 0, `${file} exited with ${code}:\n${stderr}`)
            const messages = collector.messages()
            const want = expected[file]!
            assert.deepStrictEqual(messages.map(line).toSorted(), want.messages.toSorted(), output)
            want.check?.(messages, output)
          } finally {
            await collector.close()
          }
        }), 90_000) // the child's time plus the wait for a slot
    }
  })
})
