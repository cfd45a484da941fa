/**
 * What every runtime program sends: one call of each type, the same on every runtime, and what it reports back.
 * No import of the library here, so each program loads only the API it is about.
 */
import type {
  AliasParams,
  GroupParams,
  IdentifyParams,
  PageParams,
  ScreenParams,
  TrackParams
} from "../../../src/index.ts"

export interface Settings {
  readonly writeKey: string
  readonly host: string
}

/** One call's outcome as the program saw it: `error` is absent when the client reported it delivered. */
export interface Outcome {
  readonly type: string
  readonly messageId: string
  readonly error?: string | undefined
}

/** The one line a program prints (or a Worker answers) once its client is closed. */
export interface Summary {
  readonly runtime: string
  readonly outcomes: ReadonlyArray<Outcome>
}

export const userId = "runtime-user"

export const calls: {
  readonly identify: IdentifyParams
  readonly track: TrackParams
  readonly page: PageParams
  readonly screen: ScreenParams
  readonly group: GroupParams
  readonly alias: AliasParams
} = {
  identify: { userId, traits: { email: "runtime@example.com", plan: "trial" } },
  track: { userId, event: "Runtime Checked", properties: { calls: 6 } },
  page: { userId, name: "Home", properties: { path: "/" } },
  screen: { userId, name: "Settings" },
  group: { userId, groupId: "acme", traits: { name: "Acme" } },
  alias: { userId, previousId: "anonymous-runtime-user" }
}

/** Which runtime runs this code, and its version, from what each one alone defines. */
export const runtime = (): string => {
  const global = globalThis as {
    readonly Bun?: { readonly version: string }
    readonly Deno?: { readonly version: { readonly deno: string } }
    readonly navigator?: { readonly userAgent?: string }
    readonly process?: { readonly versions?: { readonly node?: string } }
  }
  if (global.Bun !== undefined) return `bun ${global.Bun.version}`
  if (global.Deno !== undefined) return `deno ${global.Deno.version.deno}`
  // workerd with nodejs_compat has a process.versions.node too: its user agent tells it apart.
  if (global.navigator?.userAgent === "Cloudflare-Workers") return "workerd"
  return `node ${global.process?.versions?.node}`
}
