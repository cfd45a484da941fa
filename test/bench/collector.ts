/**
 * The local collector in its own process, for `import.ts`: it answers as the Pipelines API does (checking every
 * message) on 127.0.0.1 with an ephemeral port, tells its URL over IPC, and stops on SIGTERM.
 */
import * as Collector from "../../src/Collector.ts"

const collector = await Collector.start({ writeKey: "wk_bench" })
process.send!({ type: "listening", url: collector.url })
process.once("SIGTERM", () => void collector.close().then(() => process.exit(0)))
