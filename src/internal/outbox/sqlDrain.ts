/**
 * The PostgreSQL outbox: a table of messages that any number of clients, in any number of processes, insert into
 * and drain (the transactional outbox pattern).
 *
 * - A call inserts a row, through the `SqlClient` in the caller's own fiber, so inside `sql.withTransaction` the row
 *   is part of the caller's transaction: stored if and only if it commits. After the commit, this client's claimer
 *   is woken; other clients see the row at their next poll.
 * - A claimer takes rows with `FOR UPDATE SKIP LOCKED` (so drainers never wait on each other or take the same row)
 *   and leases them: `lease_owner` and `lease_until`. A live drainer renews its leases every third of the lease; the
 *   rows of a drainer that died are claimed again once their lease has run out.
 * - A row is deleted once its message has a final outcome (moved to `<table>_dead_letter` with `deadLetter`), and
 *   released for the next claim when its client closes without sending it.
 *
 * Outcomes are written in batches by a fiber of their own, so settling stays synchronous in the engine. If the
 * database cannot be reached, every operation is retried with backoff; a row whose delete was lost is sent again
 * after its lease, with the same messageId.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as SqlClient from "effect/sql/SqlClient"
import type { SqlError } from "effect/sql/SqlError"
import { AnalyticsError, OutboxUnavailable } from "../../AnalyticsError.ts"
import * as Outbox from "../../Outbox.ts"

/** A claimed row. */
export interface Row {
  readonly id: bigint
  readonly json: string
}

/** What the drain needs of the engine. */
export interface Hooks {
  /** How many more messages the engine can hold now. */
  readonly room: () => number
  /** The engine can send no more (its batcher died): stop claiming. */
  readonly stopped: () => boolean
  /** Claimed rows, oldest first, for the engine to send; `urgent`: a flush or close waits for them. */
  readonly adopt: (rows: ReadonlyArray<Row>, urgent: boolean) => void
  /** A database operation failed; `what` says what it means for the messages. */
  readonly trouble: (what: string, error: unknown) => void
}

export type Outcome = "delivered" | "failed" | "kept"

export interface Drain {
  /** `table <name>`, for messages. */
  readonly location: string
  /** Inserts a message, in the caller's transaction if it has one. */
  readonly insert: (json: string) => Effect.Effect<void, SqlError>
  /** Rows this client claimed have an outcome: deleted (or dead-lettered), or released for a later claim (`kept`). */
  readonly settle: (ids: ReadonlyArray<bigint>, outcome: Outcome) => void
  /** Room freed in the engine: claim more. */
  readonly wake: () => void
  /**
   * Claims every row available now, as room allows, until none is left: for flush and close. `settled` waits for
   * what the engine was given so far. Database errors end it (they are reported).
   */
  readonly drain: (settled: Effect.Effect<void>) => Effect.Effect<void>
  /** Stops claiming (close has begun). */
  readonly stopClaiming: Effect.Effect<void>
  /** Writes the outcomes not yet written, within `timeoutMillis`. */
  readonly finish: (timeoutMillis: number) => Effect.Effect<void>
}

export type Open = (hooks: Hooks) => Effect.Effect<Drain, never, Scope.Scope>

type Settings = Omit<Outbox.Sql, "open">

/** From 200 ms, doubling, at most 30 s: a database that is down is not hammered, and one that is back is soon used. */
const retryBackoff = Schedule.exponential("200 millis", 2).pipe(
  Schedule.modifyDelay(({ duration }) => Effect.succeed(Duration.min(duration, Duration.seconds(30))))
)

/** Creates the tables and index when missing; serialized by an advisory lock, so many processes may start at once. */
export const migrate = (sql: SqlClient.SqlClient, settings: Settings): Effect.Effect<void, SqlError> => {
  const table = sql.literal(settings.table)
  const index = sql.literal(`${settings.table.replace(".", "_")}_claim`)
  return sql.withTransaction(Effect.gen(function*() {
    yield* sql`SELECT pg_advisory_xact_lock(hashtext(${`cdp-analytics-outbox:${settings.table}`}))`
    yield* sql`CREATE TABLE IF NOT EXISTS ${table} (
      id bigserial PRIMARY KEY,
      message text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      lease_owner text,
      lease_until timestamptz,
      attempts integer NOT NULL DEFAULT 0
    )`
    yield* sql`CREATE INDEX IF NOT EXISTS ${index} ON ${table} (lease_until, id)`
    if (settings.deadLetter) {
      yield* sql`CREATE TABLE IF NOT EXISTS ${sql.literal(`${settings.table}_dead_letter`)} (
        id bigint PRIMARY KEY,
        message text NOT NULL,
        created_at timestamptz NOT NULL,
        failed_at timestamptz NOT NULL DEFAULT now()
      )`
    }
  }))
}

/** The `Outbox` service over the `SqlClient` of the context, migrating first unless told not to. */
export const make = (settings: Settings): Effect.Effect<Outbox.Sql, AnalyticsError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    if (settings.migrate) {
      yield* Effect.mapError(
        migrate(sql, settings),
        (error) =>
          new AnalyticsError({
            reason: new OutboxUnavailable({
              location: `table ${settings.table}`,
              description: `creating it failed: ${error.message}`
            })
          })
      )
    }
    return { ...settings, open: (hooks) => open(sql, settings, hooks) }
  })

/** For tests and tools: the layer of {@link make}. */
export const layer = (settings: Settings): Layer.Layer<Outbox.Outbox, AnalyticsError, SqlClient.SqlClient> =>
  Layer.effect(Outbox.Outbox, make(settings))

const open = (sql: SqlClient.SqlClient, settings: Settings, hooks: Hooks) =>
  Effect.gen(function*() {
    const table = sql.literal(settings.table)
    const deadLetters = sql.literal(`${settings.table}_dead_letter`)
    const owner = crypto.randomUUID()
    // The drain's own statements run outside any transaction of a caller (a flush inside sql.withTransaction must
    // not claim on the caller's connection, nor see its uncommitted rows).
    const outsideTransactions = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
      Effect.updateContext(
        effect,
        (context: Context.Context<R>) => Context.omit(sql.transactionService)(context) as Context.Context<R>
      )
    const lease = sql.literal(`${settings.leaseMillis} * interval '1 millisecond'`)
    // One claim at a time: the claimer's and a flush's would otherwise race for the same room.
    const claiming = yield* Semaphore.make(1)
    // One write of outcomes at a time: `finish` must wait for one in progress, or the scope would cut it off.
    const writing = yield* Semaphore.make(1)
    const wakeups = yield* Queue.dropping<void>(1)
    const written = yield* Queue.dropping<void>(1)
    // Rows claimed whose outcome is not yet written: their leases are renewed until it is.
    let held = 0
    // Outcomes recorded and not yet written.
    let toDelete: Array<bigint> = []
    let toDeadLetter: Array<bigint> = []
    let toRelease: Array<bigint> = []

    const wake = () => void Queue.offerUnsafe(wakeups, undefined)

    /**
     * Claims up to `max` available rows (up to `through`, if given) and gives them to the engine; how many. A claim
     * that committed is always handed over: an interruption waits for it, so no row is left leased and unsent.
     */
    const claim = (max: number, through: bigint | undefined, urgent: boolean) =>
      claiming.withPermits(1)(Effect.uninterruptible(Effect.gen(function*() {
        const upTo = through === undefined ? sql.literal("") : sql`AND id <= ${through}`
        const rows = yield* sql<{ readonly id: bigint; readonly message: string }>`
          UPDATE ${table} SET lease_owner = ${owner}, lease_until = now() + ${lease}, attempts = attempts + 1
          WHERE id IN (
            SELECT id FROM ${table}
            WHERE (lease_until IS NULL OR lease_until < now()) ${upTo}
            ORDER BY id LIMIT ${max}
            FOR UPDATE SKIP LOCKED
          )
          RETURNING id, message`
        if (rows.length === 0) return 0
        const claimed = rows.map((row) => ({ id: BigInt(row.id), json: row.message }))
          .toSorted((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        held += claimed.length
        hooks.adopt(claimed, urgent)
        return claimed.length
      }))).pipe(outsideTransactions)

    // Claims while there is room and there are rows; otherwise waits to be woken, or polls for other producers' rows.
    const claimer = Effect.gen(function*() {
      while (!hooks.stopped()) {
        const room = hooks.room()
        if (room > 0) {
          const claimed = yield* claim(room, undefined, false).pipe(
            Effect.tapError((error) => Effect.sync(() => hooks.trouble("claim rows; it tries again", error))),
            Effect.retry(retryBackoff)
          )
          if (claimed === room) continue // there may be more
        }
        yield* Effect.timeoutOption(Queue.take(wakeups), Duration.millis(settings.pollIntervalMillis))
      }
    })

    const renew = Effect.suspend(() =>
      held === 0
        ? Effect.void
        : sql`UPDATE ${table} SET lease_until = now() + ${lease} WHERE lease_owner = ${owner}`.pipe(
          Effect.asVoid,
          Effect.catch((error) =>
            Effect.sync(() => hooks.trouble("renew its leases; another drainer may send those messages too", error))
          )
        )
    )

    /** Writes the recorded outcomes; what fails is put back for the next attempt (leases are renewed meanwhile). */
    const writeOutcomes = writing.withPermits(1)(Effect.suspend(() => {
      const [deletes, dead, releases] = [toDelete, toDeadLetter, toRelease]
      if (deletes.length + dead.length + releases.length === 0) return Effect.void
      toDelete = []
      toDeadLetter = []
      toRelease = []
      return Effect.gen(function*() {
        if (deletes.length > 0) yield* sql`DELETE FROM ${table} WHERE id = ANY(${deletes})`
        if (dead.length > 0) {
          yield* sql`WITH moved AS (DELETE FROM ${table} WHERE id = ANY(${dead}) RETURNING id, message, created_at)
            INSERT INTO ${deadLetters} (id, message, created_at) SELECT id, message, created_at FROM moved
            ON CONFLICT (id) DO NOTHING`
        }
        if (releases.length > 0) {
          yield* sql`UPDATE ${table} SET lease_owner = NULL, lease_until = NULL
            WHERE id = ANY(${releases}) AND lease_owner = ${owner}`
        }
        held -= deletes.length + dead.length + releases.length
      }).pipe(
        Effect.onError(() =>
          Effect.sync(() => {
            toDelete.push(...deletes)
            toDeadLetter.push(...dead)
            toRelease.push(...releases)
          })
        )
      )
    }))

    // Woken by settles; a failed write is retried on its own, not at the next settle.
    const writer = Queue.take(written).pipe(
      Effect.andThen(writeOutcomes.pipe(
        Effect.tapError((error) => Effect.sync(() => hooks.trouble("record outcomes; it tries again", error))),
        Effect.retry(retryBackoff)
      )),
      Effect.forever
    )

    const claimerFiber = yield* Effect.forkScoped(claimer)
    yield* Effect.forkScoped(Effect.repeat(renew, Schedule.spaced(Duration.millis(settings.leaseMillis / 3))))
    yield* Effect.forkScoped(writer)

    const drain: Drain = {
      location: `table ${settings.table}`,
      insert: (json) =>
        sql`INSERT INTO ${table} (message) VALUES (${json})`.pipe(
          Effect.andThen(sql.afterCommit(Effect.sync(wake)))
        ),
      settle: (ids, outcome) => {
        const list = outcome === "delivered"
          ? toDelete
          : outcome === "kept"
          ? toRelease
          : settings.deadLetter
          ? toDeadLetter
          : toDelete
        for (const id of ids) list.push(id)
        Queue.offerUnsafe(written, undefined)
      },
      wake,
      drain: (settled) =>
        Effect.gen(function*() {
          const [last] = yield* sql<{ readonly max: bigint | null }>`SELECT max(id) AS max FROM ${table}`.pipe(
            outsideTransactions
          )
          const max = last?.max
          if (max === null || max === undefined) return
          const through = BigInt(max)
          while (true) {
            yield* settled
            if (hooks.stopped()) return
            const room = hooks.room()
            // Full only if the claimer filled it meanwhile: wait for those, then claim again.
            if (room > 0 && (yield* claim(room, through, true)) === 0) return
          }
        }).pipe(
          Effect.catch((error) =>
            Effect.andThen(
              Effect.sync(() => hooks.trouble("claim rows for a flush; it sends what it holds", error)),
              settled
            )
          )
        ),
      stopClaiming: Fiber.interrupt(claimerFiber),
      finish: (timeoutMillis) =>
        writeOutcomes.pipe(
          Effect.retry(Schedule.spaced("100 millis")),
          Effect.timeoutOption(Duration.millis(timeoutMillis)),
          Effect.exit,
          Effect.andThen((exit) =>
            Effect.sync(() => {
              if (Exit.isFailure(exit) || toDelete.length + toDeadLetter.length + toRelease.length > 0) {
                hooks.trouble("record outcomes before closing; those messages will be sent again", exit)
              }
            })
          )
        )
    }
    return drain
  })
