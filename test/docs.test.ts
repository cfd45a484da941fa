/**
 * Every ```ts block of README.md and docs/*.md type-checks against the sources.
 *
 * The blocks are written to test/.docs-snippets/ (gitignored; tsc skips dot-folders, so `npm run check` never sees
 * them), one module per block, where `cdp-analytics-effect` and `cdp-analytics-effect/<Module>` map to src/. They are
 * checked with the project's own compiler options, minus the unused-variable rules (a snippet may declare something
 * only to show it). An error names the doc and line. Blocks that are not TypeScript must say what they are
 * (```text, ```sh, ```json, ```sql): an unmarked or ```js block fails, so nothing escapes the check by accident.
 *
 * Set KEEP_DOCS_SNIPPETS=1 to keep the generated files for inspection.
 */
import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { relative } from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../", import.meta.url))
const folder = `${root}test/.docs-snippets/`
const docs = ["README.md", ...readdirSync(`${root}docs`).filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)]
  .toSorted()

/** Languages a block may be marked with; only TypeScript is compiled, JSON is parsed. */
const checked = new Set(["ts", "typescript"])
const allowed = new Set([...checked, "text", "sh", "json", "sql"])

interface Block {
  readonly doc: string
  /** 1-based line of the first line of code (after the fence). */
  readonly line: number
  readonly language: string
  readonly code: string
}

const blocksOf = (doc: string): Array<Block> => {
  const lines = readFileSync(`${root}${doc}`, "utf8").split("\n")
  const blocks: Array<Block> = []
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)/.exec(lines[i]!)
    if (open === null) continue
    const [, indent, fence, language] = open
    const body: Array<string> = []
    let j = i + 1
    while (j < lines.length && !lines[j]!.trimStart().startsWith(fence!)) {
      body.push(lines[j]!.startsWith(indent!) ? lines[j]!.slice(indent!.length) : lines[j]!)
      j++
    }
    blocks.push({ doc, line: i + 2, language: language!, code: body.join("\n") })
    i = j
  }
  return blocks
}

const blocks = docs.flatMap(blocksOf)
const snippets = blocks.filter((block) => checked.has(block.language))
const fileOf = (block: Block) => `${block.doc.replace(/[/.]/g, "_")}_L${block.line}.ts`

const tsc = (project: string) =>
  new Promise<{ code: number; output: string }>((resolve) =>
    execFile(
      process.execPath,
      [`${root}node_modules/typescript/bin/tsc`, "-p", project, "--pretty", "false"],
      { cwd: root, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : 1, output: stdout + stderr })
    )
  )

describe("docs", () => {
  it("marks every code block with a language", () => {
    const unmarked = blocks.filter((block) => !allowed.has(block.language))
    assert.deepStrictEqual(
      unmarked.map((block) => `${block.doc}:${block.line - 1} \`\`\`${block.language}`),
      [],
      "mark each block ```ts (type-checked), ```text, ```sh or ```json"
    )
  })

  it("has valid JSON in its ```json blocks", () => {
    for (const block of blocks.filter((b) => b.language === "json")) {
      assert.doesNotThrow(() => JSON.parse(block.code), undefined, `${block.doc}:${block.line}`)
    }
  })

  it("links only to files and headings that exist, within what the package ships", () => {
    // The README and docs are read from the installed package too: a link outside `files` would be dead there.
    const shipped: ReadonlyArray<string> = JSON.parse(readFileSync(`${root}package.json`, "utf8")).files
    // GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens.
    const slug = (heading: string) =>
      heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-")
    const anchorsOf = (file: string) =>
      new Set(
        readFileSync(file, "utf8").split("\n").filter((l) => /^#{1,6} /.test(l)).map((l) => slug(l.replace(/^#+ /, "")))
      )
    const broken: Array<string> = []
    for (const doc of docs) {
      const text = readFileSync(`${root}${doc}`, "utf8").replace(/```[\s\S]*?```/g, "")
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue
        const [path, anchor] = target!.split("#")
        const file = path === "" ? `${root}${doc}` : fileURLToPath(new URL(path!, `file://${root}${doc}`))
        const inPackage = relative(root, file).replaceAll("\\", "/")
        if (!shipped.some((entry) => inPackage === entry || inPackage.startsWith(`${entry}/`))) {
          broken.push(`${doc}: ${target} (not shipped in the package)`)
        }
        if (!existsSync(file)) broken.push(`${doc}: ${target} (no such file)`)
        else if (anchor !== undefined && file.endsWith(".md") && !anchorsOf(file).has(anchor)) {
          broken.push(`${doc}: ${target} (no such heading)`)
        }
      }
    }
    assert.deepStrictEqual(broken, [])
  })

  it(`type-checks every \`\`\`ts block (${snippets.length} in ${docs.length} files)`, async () => {
    assert.isAbove(snippets.length, 30)
    rmSync(folder, { recursive: true, force: true })
    mkdirSync(folder, { recursive: true })
    try {
      const byFile = new Map<string, Block>()
      for (const block of snippets) {
        byFile.set(fileOf(block), block)
        // `export {}` makes every snippet a module: top-level await works and names never clash between snippets.
        writeFileSync(`${folder}${fileOf(block)}`, `${block.code}\nexport {}\n`)
      }
      writeFileSync(
        `${folder}tsconfig.json`,
        JSON.stringify(
          {
            extends: "../../tsconfig.json",
            compilerOptions: {
              noUnusedLocals: false,
              noUnusedParameters: false,
              paths: {
                "cdp-analytics-effect": ["../../src/index.ts"],
                "cdp-analytics-effect/*": ["../../src/*.ts"]
              }
            },
            include: ["*.ts"]
          },
          null,
          2
        )
      )
      const { code, output } = await tsc(`${folder}tsconfig.json`)
      // `file.ts(line,col): error TSxxxx: message`, with the file relative to the project root.
      const errors = output.split("\n").filter((l) => l.trim() !== "").map((l) => {
        const match = /([^/\\(]+\.ts)\((\d+),(\d+)\): (.*)$/.exec(l)
        const block = match === null ? undefined : byFile.get(match[1]!)
        return block === undefined ? l : `${block.doc}:${block.line + Number(match![2]) - 1}:${match![3]} ${match![4]}`
      })
      assert.deepStrictEqual(errors, [], `tsc exited with ${code}`)
      assert.strictEqual(code, 0, output)
    } finally {
      if (process.env.KEEP_DOCS_SNIPPETS === undefined) rmSync(folder, { recursive: true, force: true })
    }
  })
})
