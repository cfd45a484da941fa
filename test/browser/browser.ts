/**
 * A real browser for the inspector's tests: Debian's Chromium, driven by playwright-core (which downloads nothing).
 * Where /usr/bin/chromium is missing, the browser tests are skipped, and say so with the command that installs it.
 */
import { existsSync } from "node:fs"
import { type Browser, chromium } from "playwright-core"

/** Debian's Chromium; CHROMIUM_PATH points elsewhere (and, pointed at nothing, shows what a machine without it does). */
export const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium"

export const installCommand = "apt-get install -y chromium"

export const hasChromium = existsSync(executablePath)

/** Prints, once per file, which tests are skipped and why. */
export const noticeIfMissing = (what: string): void => {
  if (hasChromium) return
  console.warn(
    `\n[browser tests skipped] ${what}: ${executablePath} is missing. Install it with: ${installCommand}\n` +
      "(.ci/run installs it when missing.)\n"
  )
}

export const launch = (): Promise<Browser> =>
  chromium.launch({
    executablePath,
    headless: true,
    args: ["--no-sandbox", "--disable-background-networking", "--disable-component-update"]
  })
