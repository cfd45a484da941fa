/**
 * The entry for runtimes that run a file: `<runtime> main.ts effect|facade`, with `CUSTOMERIO_WRITE_KEY` and
 * `CUSTOMERIO_HOST` set. Prints the summary as its last line and exits on its own once the client is closed: a
 * timer or socket left behind would keep the process alive and fail the test.
 */
import type { Settings, Summary } from "./calls.ts"

const api = process.argv[2]
if (api !== "effect" && api !== "facade") throw new Error(`usage: main.ts effect|facade (got ${api})`)
const settings: Settings = {
  writeKey: process.env.CUSTOMERIO_WRITE_KEY ?? "",
  host: process.env.CUSTOMERIO_HOST ?? ""
}
// Only the API under test is loaded.
const program: { readonly run: (settings: Settings) => Promise<Summary> } = api === "effect"
  ? await import("./effect.ts")
  : await import("./facade.ts")
console.log(JSON.stringify(await program.run(settings)))
