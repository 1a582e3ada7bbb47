import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type BrowserContext, chromium } from 'playwright-core'
import { CHROMIUM } from '../helpers/browser.ts'

// A test site on an origin of its own (localhost and a port of its own; the
// service listens on 127.0.0.1 and another port), with pages that load the
// service's script or posthog-js, as a real site would.

/** A desktop Chrome's User-Agent: headless Chromium says HeadlessChrome, which isbot (rightly) calls a bot. */
export const DESKTOP_UA =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36'

export interface Site {
  origin: string
  close(): Promise<void>
}

const POSTHOG_JS = new URL(
  '../../node_modules/posthog-js/dist/array.full.no-external.js',
  import.meta.url,
)

/**
 * Pages: /p/<anything>?key=KEY[&hash=true][&title=T] loads /script.js from
 * `service` with that key; /posthog/<anything>?key=KEY loads posthog-js
 * (served from its npm package) and initialises it with api_host = service.
 */
export async function startSite(service: string): Promise<Site> {
  const posthog = readFileSync(POSTHOG_JS)
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const key = url.searchParams.get('key') ?? ''
    const title = url.searchParams.get('title') ?? `Page ${url.pathname}`
    if (url.pathname === '/posthog.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(posthog)
      return
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end()
      return
    }
    let head: string
    if (url.pathname.startsWith('/posthog/')) {
      head = `<script src="/posthog.js"></script>
<script>posthog.init(${JSON.stringify(key)}, {api_host: ${JSON.stringify(service)}, autocapture: false,
  disable_session_recording: true, disable_surveys: true, capture_pageleave: false,
  opt_out_useragent_filter: true})</script>`
    } else {
      const hash = url.searchParams.get('hash') === 'true' ? ' data-hash="true"' : ''
      head = `<script defer src="${service}/script.js" data-key="${key}"${hash}></script>`
    }
    res
      .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
      .end(
        `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title>${head}</head><body><h1>${title}</h1></body></html>`,
      )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    origin: `http://localhost:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export interface WebBrowser {
  context: BrowserContext
  close(): Promise<void>
}

/** Headless Chromium as test/helpers/browser.ts starts it, with a desktop browser's User-Agent. */
export async function launchBrowser(): Promise<WebBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'ea-web-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    userAgent: DESKTOP_UA,
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
  context.setDefaultTimeout(60_000)
  return {
    context,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
