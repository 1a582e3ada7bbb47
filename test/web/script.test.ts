import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import type { Page } from 'playwright-core'
import { startServerTestApp, startTestApp, type TestApp } from '../helpers/app.ts'
import { skipUnlessChromium } from '../helpers/browser.ts'
import { waitFor } from '../helpers/events.ts'
import { INGEST_MODES } from '../helpers/ingest-modes.ts'
import { DESKTOP_UA, launchBrowser, type Site, startSite, type WebBrowser } from './site.ts'

// The browser script in headless Chromium, on a test site of another origin
// than the service, against the whole service: embedded, and PostgreSQL with
// the queue and a worker. What the pages do must arrive in PostgreSQL exactly
// once, with the properties the web stats read; what must not be stored is not.

declare global {
  interface Window {
    eventAnalytics?: {
      track(name: string, properties?: Record<string, unknown>): void
      identify(id: string, traits?: Record<string, unknown>): void
    }
  }
}

const ADMIN = 'web-script-test-admin-key'
const AS_ADMIN = { authorization: `Bearer ${ADMIN}` }
const MODES = INGEST_MODES.filter((m) => m.server === m.queue)

interface Row {
  user_id: string
  event_type: string
  properties: Record<string, unknown>
}

describe('GET /script.js', () => {
  let t: TestApp
  before(async () => {
    t = await startTestApp({ queue: false })
  })
  after(() => t?.close())

  test('is small (under 3 KB gzipped), cacheable and revalidated by its ETag', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/script.js' })
    assert.equal(res.statusCode, 200)
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8')
    assert.equal(res.headers['cache-control'], 'public, max-age=3600, stale-while-revalidate=86400')
    const gzipped = gzipSync(res.rawPayload, { level: 9 }).length
    assert.ok(gzipped < 3 * 1024, `${gzipped} bytes gzipped`)
    const etag = String(res.headers.etag)
    assert.match(etag, /^"[A-Za-z0-9_-]{22}"$/)
    const again = await t.app.inject({
      method: 'GET',
      url: '/script.js',
      headers: { 'if-none-match': etag },
    })
    assert.deepEqual([again.statusCode, again.body], [304, ''])
  })
})

for (const mode of MODES) {
  describe(`the script in Chromium, ${mode.name}`, {
    skip: mode.skip || skipUnlessChromium(),
  }, () => {
    let t: TestApp
    let service: string
    let site: Site
    let browser: WebBrowser
    const projects: Record<string, { id: number; key: string }> = {}

    const rows = async (project: string): Promise<Row[]> => {
      const { rows } = await t.deps.db.query<Row>(
        // The script's timestamps are strictly increasing within a page.
        'SELECT user_id, event_type, properties FROM events WHERE project_id = $1 ORDER BY occurred_at',
        [projects[project]!.id],
      )
      return rows
    }
    const count = async (project: string) => (await rows(project)).length
    const waitRows = (project: string, done: (r: Row[]) => boolean, what: string) =>
      waitFor(`${project}: ${what}`, () => rows(project), done)
    const url = (project: string, path: string, extra = '') =>
      `${site.origin}${path}${path.includes('?') ? '&' : '?'}key=${projects[project]!.key}${extra}`
    /** A page that has loaded the script, and the fate of its first /collect request. */
    const open = async (target: string, setup?: (page: Page) => Promise<void>) => {
      const page = await browser.context.newPage()
      await setup?.(page)
      const sent = page.waitForRequest((r) => r.url() === `${service}/collect`)
      await page.goto(target, { referer: 'https://search.example/results?q=shoes' })
      const request = await sent
      // A response the browser's CORS check refused is a failed request to the page.
      const failed = new Promise<null>((resolve) =>
        page.on('requestfailed', (r) => r === request && resolve(null)),
      )
      const answer = await Promise.race([request.response(), failed])
      return { page, answer }
    }
    const answered = async (target: string, setup?: (page: Page) => Promise<void>) => {
      const { page, answer } = await open(target, setup)
      assert.ok(answer, `${target}: the /collect request failed`)
      return { page, answer }
    }

    before(async () => {
      const options = { queue: mode.queue, worker: mode.queue, env: { API_KEY: ADMIN } }
      t = mode.server ? await startServerTestApp(options) : await startTestApp(options)
      await t.app.listen({ port: 0, host: '127.0.0.1' })
      service = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
      site = await startSite(service)
      for (const name of ['shop', 'locked', 'open-list', 'private', 'kept', 'bots']) {
        const project = await t.deps.projects.create(name)
        const { key } = await t.deps.apiKeys.create('public', 'site', project.id)
        projects[name] = { id: project.id, key }
      }
      await t.deps.projects.setWeb('locked', { allowed_origins: ['https://elsewhere.example'] })
      await t.deps.projects.setWeb('open-list', { allowed_origins: [site.origin] })
      await t.deps.projects.setWeb('private', { honor_gpc: true })
      await t.deps.projects.setWeb('kept', { persistent_visitor_id: true })
      browser = await launchBrowser()
    })
    after(async () => {
      await browser?.close()
      await site?.close()
      await t?.close()
    })

    test('page views on load and on SPA navigations, custom events and identify: each once, with its properties', async () => {
      const { page, answer } = await answered(
        url(
          'shop',
          '/shop/?utm_source=news&utm_medium=email&utm_campaign=nov&utm_term=boots&utm_content=top',
          '&title=Shop',
        ),
      )
      assert.equal(answer.status(), 200)
      assert.equal(answer.headers()['access-control-allow-origin'], '*')
      await page.evaluate(() => {
        history.pushState({}, '', '/shop/item-1')
        // The same address again (a state update): not a page view.
        history.replaceState({ scrolled: true }, '', '/shop/item-1')
        history.replaceState({}, '', '/shop/item-2')
      })
      await page.evaluate(() => {
        window.eventAnalytics!.track('add_to_cart', { sku: 'b-42', price: 90 })
        window.eventAnalytics!.identify('user-42', { plan: 'pro' })
        window.eventAnalytics!.track('checkout', { total: 90 })
      })
      // Back (popstate) to the landing page; the last message of the test, so all before it were sent.
      await page.goBack()
      const stored = await waitRows('shop', (r) => r.length >= 6, 'six events')
      const visitor = stored[0]!.user_id
      assert.match(visitor, /^v_[A-Za-z0-9_-]{22}$/)
      const common = {
        title: 'Shop',
        referrer: 'https://search.example/results?q=shoes',
        referrer_host: 'search.example',
        host: 'localhost',
        utm_source: 'news',
        utm_medium: 'email',
        utm_campaign: 'nov',
        utm_term: 'boots',
        utm_content: 'top',
        screen_width: await page.evaluate(() => screen.width),
        language: await page.evaluate(() => navigator.language),
        browser: 'Chrome',
        os: 'Linux',
        device: 'desktop',
      }
      const pageView = (path: string, utm: boolean) => ({
        user_id: visitor,
        event_type: 'page_view',
        properties: {
          ...common,
          path,
          ...(utm
            ? {}
            : { utm_source: '', utm_medium: '', utm_campaign: '', utm_term: '', utm_content: '' }),
        },
      })
      const facts = { browser: 'Chrome', os: 'Linux', device: 'desktop' }
      assert.deepEqual(stored, [
        pageView('/shop/', true),
        pageView('/shop/item-1', false),
        pageView('/shop/item-2', false),
        {
          user_id: visitor,
          event_type: 'add_to_cart',
          properties: { sku: 'b-42', price: 90, ...facts },
        },
        { user_id: 'user-42', event_type: 'checkout', properties: { total: 90, ...facts } },
        // replaceState took item-1's place in the history: back is the landing page.
        { ...pageView('/shop/', true), user_id: 'user-42' },
      ])
      // Recorded before the request is answered, but in queue mode perhaps after the worker stored the events.
      const identities = await waitFor(
        'the identify call',
        async () =>
          (
            await t.deps.db.query(
              'SELECT kind, source, user_id, anonymous_id, traits FROM identity_messages WHERE project_id = $1',
              [projects.shop!.id],
            )
          ).rows,
        (r) => r.length > 0,
      )
      assert.deepEqual(identities, [
        {
          kind: 'identify',
          source: 'web',
          user_id: 'user-42',
          anonymous_id: visitor,
          traits: { plan: 'pro' },
        },
      ])
      // No cookie and nothing in localStorage: the visitor id is the server's.
      assert.deepEqual(await browser.context.cookies(), [])
      assert.equal(await page.evaluate(() => localStorage.length), 0)
      await page.close()
    })

    test('hash changes are page views with data-hash="true"', async () => {
      const before = await count('shop')
      const { page } = await answered(url('shop', '/docs/', '&hash=true'))
      await page.evaluate(() => {
        location.hash = '#/install'
      })
      await page.evaluate(() => {
        location.hash = '#/configure'
      })
      const stored = await waitRows('shop', (r) => r.length >= before + 3, 'three more')
      assert.deepEqual(
        stored.slice(before).map((r) => r.properties.path),
        ['/docs/', '/docs/#/install', '/docs/#/configure'],
      )
      await page.close()
    })

    test('an event right before the page closes still arrives (beacon on pagehide)', async () => {
      const before = await count('shop')
      const { page } = await answered(url('shop', '/bye/'))
      await waitRows('shop', (r) => r.length === before + 1, 'the page view')
      await page.evaluate(() => window.eventAnalytics!.track('leaving', { at: 'close' }))
      await page.close({ runBeforeUnload: true })
      const stored = await waitRows('shop', (r) => r.length >= before + 2, 'the last event')
      assert.deepEqual(
        stored.slice(before).map((r) => r.event_type),
        ['page_view', 'leaving'],
      )
    })

    test('a wrong key stores nothing (401)', async () => {
      const before = await t.count()
      const page = await browser.context.newPage()
      const answered = page.waitForResponse((r) => r.url() === `${service}/collect`)
      await page.goto(`${site.origin}/wrong/?key=ea_not-a-key-of-this-service`)
      const answer = await answered
      assert.equal(answer.status(), 401)
      assert.equal((await answer.json()).code, 'UNAUTHORIZED')
      assert.equal(await t.count(), before)
      await page.close()
    })

    test('a page of an origin the project does not allow stores nothing; an allowed one does', async () => {
      const console: string[] = []
      const { page, answer } = await open(url('locked', '/locked/'), async (p) => {
        p.on('console', (m) => console.push(m.text()))
      })
      // The service answered 403 without Access-Control-Allow-Origin: the browser's own CORS check failed the request.
      assert.equal(answer, null)
      await waitFor(
        'the CORS error',
        async () => console.join('\n'),
        (c) => /CORS/.test(c),
      )
      assert.equal(await count('locked'), 0)
      await page.close()

      const allowed = await answered(url('open-list', '/listed/'))
      assert.equal(allowed.answer.status(), 200)
      assert.equal(allowed.answer.headers()['access-control-allow-origin'], site.origin)
      await waitRows('open-list', (r) => r.length === 1, 'the page view')
      await allowed.page.close()
    })

    test('Global Privacy Control: nothing stored where the project honours it', async () => {
      const gpc = async (p: Page) => {
        // As text: tsx's compiled functions name helpers that the page does not have.
        await p.addInitScript({
          content:
            "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', { get: () => true })",
        })
      }
      const { page, answer } = await answered(url('private', '/gpc/'), gpc)
      assert.equal(answer.status(), 200)
      assert.deepEqual((await answer.json()).gpc, true)
      assert.equal(await count('private'), 0)
      await page.close()
      // The same signal on a project that does not honour it is recorded.
      const before = await count('shop')
      const other = await answered(url('shop', '/gpc/'), gpc)
      await waitRows('shop', (r) => r.length === before + 1, 'the page view')
      await other.page.close()
    })

    test('persistent visitor ids: kept in localStorage, the same visitor across page loads', async () => {
      const first = await answered(url('kept', '/one/'))
      const kept = await first.page.evaluate(() => localStorage.getItem('ea_aid'))
      assert.match(String(kept), /^v_/)
      await first.page.close()
      const second = await answered(url('kept', '/two/'))
      const stored = await waitRows('kept', (r) => r.length === 2, 'two page views')
      assert.deepEqual(
        stored.map((r) => [r.user_id, r.properties.path]),
        [
          [kept, '/one/'],
          [kept, '/two/'],
        ],
      )
      await second.page.close()
    })

    test('a bot is dropped, counted and warned about', async () => {
      const { page, answer } = await answered(url('bots', '/crawl/'), async (p) => {
        const cdp = await p.context().newCDPSession(p)
        await cdp.send('Network.setUserAgentOverride', {
          userAgent: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
        })
      })
      assert.equal(answer.status(), 200, await answer.text())
      assert.deepEqual(await answer.json(), {
        ...(await answer.json()),
        received: 1,
        events: 0,
        rejected: 1,
      })
      assert.equal(await count('bots'), 0)
      const warnings = await t.app.inject({
        url: '/events/warnings?project=bots',
        headers: AS_ADMIN,
      })
      assert.equal(warnings.statusCode, 200)
      assert.deepEqual(
        warnings
          .json()
          .warnings.map((w: { reason: string; source: string }) => [w.source, w.reason]),
        [['web', 'bot']],
      )
      const metrics = (await t.app.inject({ url: '/metrics', headers: AS_ADMIN })).body
      assert.match(metrics, /^ea_bot_messages_dropped_total\{source="web"\} 1$/m)
      await page.close()
    })

    test('the test browser is not a bot: its User-Agent is a desktop Chrome', async () => {
      const page = await browser.context.newPage()
      assert.equal(await page.evaluate(() => navigator.userAgent), DESKTOP_UA)
      await page.close()
    })
  })
}
