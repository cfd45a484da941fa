/**
 * At most `slots` of the runs given to the returned function at once; the others wait their turn in order. For tests
 * that start CPU-bound child processes, where more at once only makes every one of them slower.
 */
export const limiter = (slots: number) => {
  let running = 0
  const waiting: Array<() => void> = []
  return async <A>(run: () => Promise<A>): Promise<A> => {
    if (running >= slots) await new Promise<void>((resolve) => waiting.push(resolve))
    else running++
    try {
      return await run()
    } finally {
      const next = waiting.shift()
      if (next !== undefined) next()
      else running--
    }
  }
}
