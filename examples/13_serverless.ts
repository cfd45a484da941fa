/**
 * Serverless (AWS Lambda, Vercel Functions, …): create the client in the handler and `await closeAndFlush()`
 * before returning, so everything is sent before the function is frozen. After `closeAndFlush` the client accepts
 * no more calls: the next invocation makes a new one.
 *
 * `closeAndFlush` never rejects; what could not be sent within its timeout fails with `FlushTimeout` (its
 * callbacks, an `error` event with code `flush_timeout`, and the optional callback below). Keep the timeout below
 * the function's own. Run it: `npm run example -- serverless`.
 */
// In your project: import { Analytics } from "cdp-analytics-effect/node"
import { Analytics } from "../src/node.ts"

const { CUSTOMERIO_WRITE_KEY = "YOUR_API_KEY", CUSTOMERIO_HOST } = process.env

interface Request {
  readonly body: { readonly userId: string; readonly score: number }
}
interface Response {
  status: number
}

export default async function handler(req: Request, res: Response): Promise<void> {
  const cioanalytics = new Analytics({ writeKey: CUSTOMERIO_WRITE_KEY, host: CUSTOMERIO_HOST })

  cioanalytics.track({ userId: req.body.userId, event: "Ultimate Played", properties: { score: req.body.score } })

  await cioanalytics.closeAndFlush({ timeout: 5_000 }, (err) => {
    if (err) console.error(`some events were not sent: ${err.message}`)
  })
  console.log("Flushed, and now this program can exit!")
  res.status = 200
}

// Two invocations, as a platform would make them.
for (const body of [{ userId: "019mr8mf4r", score: 4200 }, { userId: "97234974", score: 1337 }]) {
  const res: Response = { status: 0 }
  await handler({ body }, res)
  console.log(`invocation answered ${res.status}`)
}
