/**
 * The one realistic event every driver sends: a user id, an event name and eight properties, among them a nested
 * object and a ~100-character string. Each call builds a fresh object, as an application serving requests does.
 *
 * `calledAt` (epoch ms with sub-millisecond precision) lets the sink measure the time from call to delivery.
 */

export interface BenchEvent {
  readonly userId: string
  readonly event: string
  readonly properties: {
    readonly orderId: string
    readonly revenue: number
    readonly currency: string
    readonly quantity: number
    readonly firstPurchase: boolean
    readonly shipping: { readonly method: string; readonly country: string; readonly cost: number }
    readonly note: string
    readonly calledAt: number
  }
}

const origin = performance.timeOrigin

/** Wall-clock time in ms with sub-millisecond precision, comparable across processes on one machine. */
export const now = (): number => origin + performance.now()

const countries = ["DE", "FR", "US", "GB", "NL", "ES", "IT", "SE"] as const

export const makeEvent = (i: number): BenchEvent => ({
  userId: `user-${i % 5_000}`,
  event: "Order Completed",
  properties: {
    orderId: `ord-${i}`,
    revenue: 39.95 + (i % 100),
    currency: "EUR",
    quantity: 1 + (i % 5),
    firstPurchase: i % 7 === 0,
    shipping: { method: "express", country: countries[i % countries.length]!, cost: 4.99 },
    note: `Gift wrap requested for order ${i}; deliver to the side door, please ring twice and wait (no signature).`,
    calledAt: now()
  }
})
