/**
 * Summarizes `.cpuprofile` files (from `npm run bench -- --profile DIR`): self time by function and by package, so
 * a profile can be read (and quoted in docs/performance.md) without a browser.
 *
 *   node test/bench/profile.ts DIR/CPU.*.cpuprofile [--top 25]
 */
import { readFileSync } from "node:fs"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

interface Profile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

const args = process.argv.slice(2)
const valueOf = (flag: string): string | undefined => {
  const at = args.indexOf(flag)
  return at === -1 ? undefined : args[at + 1]
}
const top = Number(valueOf("--top") ?? 25)
/** Also print the call stacks (up to 8 frames) that lead to functions of this name, weighted by self time. */
const callersOf = valueOf("--callers")
const files = args.filter((arg, i) => !arg.startsWith("--") && !args[i - 1]?.startsWith("--"))

const where = (url: string): string => {
  if (url === "") return "(native / V8)"
  const modules = url.lastIndexOf("node_modules/")
  if (modules !== -1) {
    const rest = url.slice(modules + "node_modules/".length).split("/")
    return rest[0]!.startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0]!
  }
  if (url.startsWith("node:")) return "node (core)"
  const src = url.indexOf("/src/")
  return src !== -1 ? url.slice(src + 1) : url.slice(url.lastIndexOf("/") + 1)
}

/** A package's file, for the per-function listing: `effect/internal/effect.js`. */
const file = (url: string): string => {
  const modules = url.lastIndexOf("node_modules/")
  if (modules === -1) return where(url)
  return `${where(url)}/${url.slice(modules).split("/").slice(where(url).includes("/") ? 3 : 2).join("/")}`
    .replace("/dist/", "/").replace("/src/", "/")
}

for (const path of files) {
  const profile: Profile = JSON.parse(readFileSync(path, "utf8"))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map<number, number>()
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0
    self.set(profile.samples[i]!, (self.get(profile.samples[i]!) ?? 0) + dt)
    total += dt
  }
  const byFunction = new Map<string, number>()
  const byPackage = new Map<string, number>()
  for (const [id, micros] of self) {
    const { callFrame } = byId.get(id)!
    const name = callFrame.functionName === "" ? "(anonymous)" : callFrame.functionName
    const key = `${name}  ${file(callFrame.url)}${callFrame.url === "" ? "" : `:${callFrame.lineNumber + 1}`}`
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros)
    const pkg = callFrame.url === "" ? name.startsWith("(") ? name : "(native / V8)" : where(callFrame.url)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros)
  }
  if (callersOf !== undefined) {
    const parent = new Map<number, number>()
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
    const stacks = new Map<string, number>()
    for (const [id, micros] of self) {
      if (byId.get(id)!.callFrame.functionName !== callersOf) continue
      const frames: Array<string> = []
      for (let at = parent.get(id); at !== undefined && frames.length < 8; at = parent.get(at)) {
        const { callFrame } = byId.get(at)!
        frames.push(`${callFrame.functionName || "(anonymous)"} ${where(callFrame.url)}:${callFrame.lineNumber + 1}`)
      }
      const key = frames.join(" < ")
      stacks.set(key, (stacks.get(key) ?? 0) + micros)
    }
    console.log(`\n  callers of ${callersOf}:`)
    for (const [stack, micros] of [...stacks].toSorted((a, b) => b[1] - a[1]).slice(0, 8)) {
      console.log(`  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${stack}`)
    }
  }
  const pct = (micros: number) => `${(micros / total * 100).toFixed(1).padStart(5)}%`
  const ms = (micros: number) => `${(micros / 1000).toFixed(0).padStart(6)} ms`
  console.log(`\n${path}: ${(total / 1000).toFixed(0)} ms sampled`)
  console.log("\n  self time by package / file:")
  for (const [name, micros] of [...byPackage].toSorted((a, b) => b[1] - a[1]).slice(0, 15)) {
    console.log(`  ${pct(micros)} ${ms(micros)}  ${name}`)
  }
  console.log(`\n  top ${top} functions by self time:`)
  for (const [name, micros] of [...byFunction].toSorted((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${pct(micros)} ${ms(micros)}  ${name}`)
  }
}
