/**
 * Opens a file outbox for the life of a scope: takes its lock, forces what is written to disk every `syncInterval`,
 * and at the end of the scope syncs, closes its files and releases the lock (what is unsettled stays for the next
 * client).
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { AnalyticsError, OutboxUnavailable } from "../../AnalyticsError.ts"
import type * as Outbox from "../../Outbox.ts"
import * as Disk from "./disk.ts"
import { FileLog } from "./fileLog.ts"
import * as Lock from "./lock.ts"

const describe = (error: unknown): string => error instanceof Error ? error.message : String(error)

/** `report` is told about a failed background sync (the writes stay in the OS's cache until the next one). */
export const file = (
  options: Outbox.File,
  report: (description: string) => void
): Effect.Effect<FileLog, AnalyticsError, Scope.Scope> =>
  Effect.gen(function*() {
    // Woken when something is written after a sync; holding one wake-up is enough.
    const written = yield* Queue.dropping<void>(1)
    const fileLog = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          FileLog.open(Disk.node(), {
            path: options.path,
            segmentBytes: options.segmentBytes,
            maxBytes: options.maxBytes,
            syncAlways: options.syncIntervalMillis === undefined,
            deadLetter: options.deadLetter,
            now: Date.now,
            onDirty: () => void Queue.offerUnsafe(written, undefined)
          }),
        catch: (error) =>
          new AnalyticsError({
            reason: new OutboxUnavailable({ location: options.path, description: describe(error) })
          })
      }),
      (opened) =>
        Effect.sync(() => {
          try {
            opened.close()
          } catch (error) {
            report(`closing it failed: ${describe(error)}`)
          }
        })
    )
    if (options.syncIntervalMillis !== undefined) {
      const interval = Duration.millis(options.syncIntervalMillis)
      const syncLater = Queue.take(written).pipe(
        Effect.andThen(Effect.sleep(interval)),
        Effect.andThen(Effect.sync(() => {
          try {
            fileLog.sync()
          } catch (error) {
            report(`forcing it to disk (fsync) failed: ${describe(error)}`)
          }
        }))
      )
      yield* Effect.forkScoped(Effect.forever(syncLater))
    }
    // Another machine sharing the volume judges the lock by its age.
    yield* Effect.forkScoped(
      Effect.sync(() => {
        try {
          fileLog.heartbeat()
        } catch (error) {
          report(`refreshing its lock failed: ${describe(error)}`)
        }
      }).pipe(Effect.delay(Duration.millis(Lock.heartbeatMillis)), Effect.forever)
    )
    return fileLog
  })
