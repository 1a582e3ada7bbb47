import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'

// Tests may read the environment: they are the harness, not the product.
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** The `skip` option for a suite that drives a browser; with CI=true a missing Chromium fails the run. */
export function skipUnlessChromium(): string | false {
  if (existsSync(CHROMIUM)) return false
  const reason = `skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium, or set CHROMIUM_PATH)`
  if (process.env.CI === 'true')
    throw new Error(`CI=true and a browser suite cannot run: ${reason}`)
  return reason
}

export interface Browser {
  context: BrowserContext
  close(): Promise<void>
}

/** Debian's Chromium, headless, with nothing that reaches the network by itself. */
export async function launchChromium(): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'ea-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  // Every wait and action has one deadline, there only to bound a hang: a browser
  // on a loaded 2-core machine is many times slower than on an idle one.
  context.setDefaultTimeout(60_000)
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
