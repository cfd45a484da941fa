// Adds to package-lock.json the platform-specific optional packages that the registry this machine reaches does
// not serve (dprint's and vite's non-Linux binaries). npm install silently leaves them out of the lockfile, and
// npm ci then refuses the lockfile as incomplete. Each entry carries its os/cpu, so npm skips it here without
// fetching anything. Run after every `npm install` that changes the lockfile: `node .ci/complete-lockfile.mjs`.
import { readFileSync, writeFileSync } from "node:fs"

const path = new URL("../package-lock.json", import.meta.url)
const lock = JSON.parse(readFileSync(path, "utf8"))
const packages = lock.packages

const osNames = { win32: "win32", windows: "win32", darwin: "darwin", linux: "linux", android: "android" }
const cpus = ["arm64", "x64", "ia32", "arm", "loong64", "ppc64", "riscv64", "s390x"]

const platformOf = (name) => {
  const tokens = name.split(/[/-]/)
  const os = tokens.map((t) => osNames[t]).find(Boolean)
  if (os === undefined) return undefined
  const cpu = tokens.find((t) => cpus.includes(t))
  const libc = tokens.find((t) => t === "glibc" || t === "musl" || t === "gnu")
  return {
    os: [os],
    ...(cpu ? { cpu: [cpu] } : {}),
    ...(libc ? { libc: [libc === "gnu" ? "glibc" : libc] } : {})
  }
}

let added = 0
for (const [key, entry] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = `${key}/node_modules/${name}`
    if (packages[`node_modules/${name}`] || packages[nested]) continue
    const platform = platformOf(name)
    if (platform === undefined) {
      console.warn(`left out ${name}: its platform cannot be told from its name`)
      continue
    }
    // Keys in npm's own order (version, then alphabetical), so a later npm install leaves the entry as it is.
    packages[`node_modules/${name}`] = {
      version: String(range).replace(/^[\^~]/, ""),
      ...(platform.cpu ? { cpu: platform.cpu } : {}),
      dev: entry.dev,
      ...(platform.libc ? { libc: platform.libc } : {}),
      optional: true,
      os: platform.os
    }
    added++
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : a > b ? 1 : 0))
)
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`)
console.log(`package-lock.json: ${added} platform entries added`)
