/**
 * The `Metric`s every client updates, so delivery can be watched with any Effect metrics exporter.
 *
 * All clients of a process share these metrics (Effect metrics are keyed by name).
 *
 * @since 0.1.0
 */
import * as Metric from "effect/Metric"

/**
 * Calls accepted into the queue.
 *
 * @category metrics
 * @since 0.1.0
 */
export const enqueued = Metric.counter("cdp_analytics_messages_enqueued", {
  description: "calls accepted into the queue",
  incremental: true
})

/**
 * Messages the API accepted.
 *
 * @category metrics
 * @since 0.1.0
 */
export const delivered = Metric.counter("cdp_analytics_messages_delivered", {
  description: "messages the API accepted",
  incremental: true
})

/**
 * Messages that finally failed (a final status, retries used up, or the close timeout).
 *
 * @category metrics
 * @since 0.1.0
 */
export const failed = Metric.counter("cdp_analytics_messages_failed", {
  description: "messages that finally failed",
  incremental: true
})

/**
 * Messages still unsent when a client with an outbox closed: kept in it for the next client, not lost.
 *
 * @category metrics
 * @since 0.1.0
 */
export const kept = Metric.counter("cdp_analytics_messages_kept", {
  description: "messages kept in the outbox at close, sent by the next client that opens it",
  incremental: true
})

/**
 * Messages `beforeSend` dropped on purpose (it returned `null`, or `Option.none()`): nothing was sent, and their
 * receipts resolved.
 *
 * @category metrics
 * @since 0.1.0
 */
export const filtered = Metric.counter("cdp_analytics_messages_filtered", {
  description: "messages beforeSend dropped on purpose, so never sent",
  incremental: true
})

/**
 * Calls refused before queueing: the queue was full, the client closed, or the message too large.
 *
 * @category metrics
 * @since 0.1.0
 */
export const dropped = Metric.counter("cdp_analytics_messages_dropped", {
  description: "calls refused before queueing (queue full, client closed, message too large)",
  incremental: true
})

/**
 * HTTP requests that were retries of an earlier attempt.
 *
 * @category metrics
 * @since 0.1.0
 */
export const retried = Metric.counter("cdp_analytics_requests_retried", {
  description: "HTTP requests that retried an earlier attempt",
  incremental: true
})

/**
 * Messages waiting in the queue, sampled whenever a batch is sent.
 *
 * @category metrics
 * @since 0.1.0
 */
export const queueDepth = Metric.gauge("cdp_analytics_queue_depth", {
  description: "messages waiting in the queue"
})

/**
 * Duration of each HTTP attempt, answered or not.
 *
 * @category metrics
 * @since 0.1.0
 */
export const requestLatency = Metric.timer("cdp_analytics_request_duration", {
  description: "duration of each HTTP attempt"
})
