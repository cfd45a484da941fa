/**
 * What keeps the collector's data and controls to the developer who started it: the `Host` check (a web page that
 * rebinds its own domain to 127.0.0.1 sends its own name as `Host`, so it is refused), and the token that unlocks the
 * fault controls (a page from elsewhere cannot read it, and cannot send the header that carries it without a CORS
 * preflight the collector never grants).
 */
import * as Redacted from "effect/Redacted"
import * as Crypto from "node:crypto"
import * as Net from "node:net"
import * as Os from "node:os"

/** The header that carries the token of the fault controls. */
export const tokenHeader = "x-collector-token"

/** A token for the fault controls: 128 random bits, URL-safe. */
export const generateToken = (): Redacted.Redacted<string> =>
  Redacted.make(Crypto.randomBytes(16).toString("base64url"))

/** A short random id, not a secret. */
export const randomId = (): string => Crypto.randomBytes(6).toString("base64url")

/** Whether `given` is the token, in time that does not depend on how much of it is right. */
export const isToken = (token: Redacted.Redacted<string>, given: string | undefined): boolean => {
  if (given === undefined) return false
  const expected = Buffer.from(Redacted.value(token))
  const actual = Buffer.from(given)
  return expected.length === actual.length && Crypto.timingSafeEqual(expected, actual)
}

const unbracket = (host: string) => host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host

/** Splits a `Host` header into its name (lower-case, IPv6 without brackets) and port (80 when absent). */
export const parseHost = (header: string): { readonly name: string; readonly port: number } | undefined => {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(header.trim())
  if (match === null) return undefined
  return { name: unbracket(match[1]!).toLowerCase(), port: match[2] === undefined ? 80 : Number(match[2]) }
}

const isWildcard = (host: string) => host === "0.0.0.0" || host === "::" || host === ""

/**
 * The check of a request's `Host` header: the port the collector listens on, and a name that is the address it
 * listens on, a loopback address, `localhost`, or one of `extra`. Listening on every interface (`0.0.0.0`, `::`),
 * any IP address and the machine's own name are taken too: what rebinding sends is a domain name.
 */
export const hostCheck = (
  listen: { readonly host: string; readonly port: number },
  extra: ReadonlyArray<string> = []
): (header: string | undefined) => boolean => {
  const names = new Set(["localhost", "127.0.0.1", "::1", unbracket(listen.host).toLowerCase()])
  for (const name of extra) names.add(unbracket(name).toLowerCase())
  const wildcard = isWildcard(listen.host)
  if (wildcard) names.add(Os.hostname().toLowerCase())
  return (header) => {
    const host = header === undefined ? undefined : parseHost(header)
    if (host === undefined || host.port !== listen.port) return false
    return names.has(host.name) || (wildcard && Net.isIP(host.name) !== 0)
  }
}

/** Whether an address is loopback: anything else exposes the payloads to a network. */
export const isLoopback = (host: string): boolean => {
  const name = unbracket(host).toLowerCase()
  return name === "localhost" || name === "::1" || /^127\.\d+\.\d+\.\d+$/.test(name)
}

/** The address clients on this machine use for a listening address (a wildcard is reached through loopback). */
export const reachableHost = (host: string): string => {
  if (host === "0.0.0.0" || host === "") return "127.0.0.1"
  if (host === "::") return "[::1]"
  const name = unbracket(host)
  return Net.isIPv6(name) ? `[${name}]` : name
}
