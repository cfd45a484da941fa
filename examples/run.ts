/**
 * `npm run example -- <name>`: starts the local collector, runs `examples/NN_<name>.ts` as a child process pointed
 * at it (`CUSTOMERIO_HOST`, `CUSTOMERIO_WRITE_KEY`), then prints what the collector received.
 *
 * `<name>` is the file name, its number (`02`) or its name without the number (`track`). `all` runs every numbered
 * example; no name lists them. Exits with the example's exit code. Ctrl-C is left to the example (see
 * `graceful-shutdown`), and the summary is printed after it exits.
 */
import { spawn } from "node:child_process"
import { readdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import * as Collector from "../src/Collector.ts"

const directory = fileURLToPath(new URL(".", import.meta.url))
const examples = readdirSync(directory).filter((file) => /^\d\d_.+\.ts$/.test(file)).toSorted()
// Also runnable by name, but not part of `all`: examples that wait for a signal (graceful-shutdown.ts).
const others = readdirSync(directory).filter((file) =>
  file.endsWith(".ts") && !examples.includes(file) && file !== "run.ts" && file !== "demo.ts"
)
const writeKey = "example-write-key"

const find = (name: string): string | undefined => {
  const wanted = name.replace(/^examples\//, "").replace(/\.ts$/, "")
  return examples.find((file) => {
    const base = file.replace(/\.ts$/, "")
    return base === wanted || base.slice(0, 2) === wanted || base.slice(3) === wanted
  }) ?? others.find((file) => file.replace(/\.ts$/, "") === wanted)
}

/** One line per message: enough to see what arrived. */
const describe = (message: Collector.ReceivedMessage): string => {
  const who = message.userId ?? message.anonymousId
  const what = message.event ?? message.name ?? message.groupId ?? message.previousId
  return [
    message.type.padEnd(8),
    who === undefined ? "" : `${String(who)}`,
    what === undefined ? "" : `${String(what)}`
  ]
    .filter((part) => part !== "")
    .join("  ")
}

const run = async (file: string): Promise<number> => {
  const collector = await Collector.start({ writeKey })
  console.log(`── ${file} (collector on ${collector.url})`)
  // Ctrl-C reaches the example too (same process group): let it shut down, then report what arrived.
  const ignore = () => {}
  process.on("SIGINT", ignore)
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [`${directory}${file}`], {
      stdio: "inherit",
      env: { ...process.env, CUSTOMERIO_WRITE_KEY: writeKey, CUSTOMERIO_HOST: collector.url }
    })
    child.on("exit", (exitCode, signal) => resolve(exitCode ?? (signal === null ? 1 : 128)))
  })
  process.off("SIGINT", ignore)
  const stats = collector.stats()
  console.log(`── the collector received ${stats.messages} message(s) in ${stats.requests} request(s):`)
  const messages = collector.messages()
  for (const message of messages.slice(0, 20)) console.log(`   ${describe(message)}`)
  if (messages.length > 20) console.log(`   … and ${messages.length - 20} more`)
  console.log(`   answers ${JSON.stringify(stats.answers)}, retries ${stats.retries}, duplicates ${stats.duplicates}`)
  await collector.close()
  if (code !== 0) console.log(`── ${file} exited with code ${code}`)
  return code
}

const name = process.argv[2]
if (name === undefined) {
  console.log("Usage: npm run example -- <name>   (or `all`)\n")
  for (const file of [...examples, ...others]) console.log(`  ${file.replace(/\.ts$/, "")}`)
} else if (name === "all") {
  let failed = 0
  for (const file of examples) {
    if ((await run(file)) !== 0) failed++
    console.log()
  }
  process.exitCode = failed === 0 ? 0 : 1
} else {
  const file = find(name)
  if (file === undefined) {
    console.error(`No example named "${name}". Run \`npm run example\` for the list.`)
    process.exitCode = 2
  } else {
    process.exitCode = await run(file)
  }
}
