import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { startServerTestApp, startTestApp, type TestApp } from '../helpers/app.ts'
import { skipUnlessChromium } from '../helpers/browser.ts'
import { waitFor } from '../helpers/events.ts'
import { INGEST_MODES } from '../helpers/ingest-modes.ts'
import { launchBrowser, type Site, startSite, type WebBrowser } from './site.ts'

// posthog-js (the pinned npm package) in headless Chromium, on a test site of
// another origin, initialised with api_host = this service and a public key:
// every call it makes on start is answered, with CORS, and no console error;
// its $pageview, capture() and identify() arrive once each, and the web
// panels count its page view as the script's, under the script's names.
// Embedded, and on PostgreSQL through the queue.

const ADMIN = 'posthog-js-test-admin-key'
const MODES = INGEST_MODES.filter((m) => m.server === m.queue)

for (const mode of MODES)
  describe(`posthog-js in Chromium, ${mode.name}`, {
    skip: mode.skip || skipUnlessChromium(),
  }, () => {
    let t: TestApp
    let service: string
    let site: Site
    let browser: WebBrowser
    let key: string
    let projectId: number

    before(async () => {
      const options = { queue: mode.queue, worker: mode.queue, env: { API_KEY: ADMIN } }
      t = mode.server ? await startServerTestApp(options) : await startTestApp(options)
      await t.app.listen({ port: 0, host: '127.0.0.1' })
      service = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
      site = await startSite(service)
      const project = await t.deps.projects.create('ph')
      projectId = project.id
      key = (await t.deps.apiKeys.create('public', 'site', project.id)).key
      browser = await launchBrowser()
    })
    after(async () => {
      await browser?.close()
      await site?.close()
      await t?.close()
    })

    test('its start-up calls are answered, and $pageview, capture() and identify() arrive, with no console error', async () => {
      const page = await browser.context.newPage()
      const errors: string[] = []
      const calls: string[] = []
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text())
      })
      page.on('pageerror', (e) => errors.push(String(e)))
      page.on('requestfailed', (r) => errors.push(`${r.url()}: ${r.failure()?.errorText}`))
      page.on('response', (r) => {
        if (r.url().startsWith(service))
          calls.push(`${r.request().method()} ${new URL(r.url()).pathname} ${r.status()}`)
      })
      await page.goto(`${site.origin}/posthog/landing?key=${key}`)
      await page.waitForFunction(
        () => (window as { posthog?: { __loaded?: boolean } }).posthog?.__loaded,
      )
      await page.evaluate(() => {
        const ph = (window as unknown as { posthog: Record<string, (...a: unknown[]) => void> })
          .posthog
        ph.capture!('clicked_buy', { sku: 'b-42' })
        ph.identify!('user-9', { plan: 'pro' })
      })
      const rows = await waitFor(
        'the three events',
        async () =>
          (
            await t.deps.db.query<{
              user_id: string
              event_type: string
              facts: unknown[]
              web: unknown[]
              day: string
            }>(
              `SELECT user_id, event_type, ARRAY[properties->>'browser', properties->>'os', properties->>'device'] AS facts,
                    ARRAY[properties->>'path', properties->>'title', properties->>'referrer_host'] AS web,
                    ((occurred_at AT TIME ZONE 'UTC')::date)::text AS day
             FROM events WHERE project_id = $1 ORDER BY occurred_at`,
              [projectId],
            )
          ).rows,
        (r) => r.some((e) => e.event_type === '$identify') && r.length >= 3,
      )
      assert.deepEqual(rows.map((r) => r.event_type).sort(), [
        '$identify',
        '$pageview',
        'clicked_buy',
      ])
      const anonymous = rows.find((r) => r.event_type === '$pageview')!.user_id
      assert.equal(rows.find((r) => r.event_type === 'clicked_buy')!.user_id, anonymous)
      assert.equal(rows.find((r) => r.event_type === '$identify')!.user_id, 'user-9')
      // The facts /collect's events get, added at intake.
      for (const r of rows) assert.deepEqual(r.facts, ['Chrome', 'Linux', 'desktop'], r.event_type)
      // The script's names beside posthog-js's own ($pathname, $referring_domain "$direct")
      const view = rows.find((r) => r.event_type === '$pageview')!
      assert.deepEqual(view.web, ['/posthog/landing', 'Page /posthog/landing', ''])
      // ...so the web panels count it: one visitor, one page view of /posthog/landing
      await t.deps.analytics!.catchUp()
      const day = view.day
      const read = async (path: string) => {
        const res = await t.app.inject({
          url: `${path}${path.includes('?') ? '&' : '?'}project=ph&from=${day}&to=${day}`,
          headers: { authorization: `Bearer ${ADMIN}` },
        })
        assert.equal(res.statusCode, 200, res.body)
        return res.json()
      }
      const pages = await read('/stats/web/pages?kind=top')
      assert.deepEqual(pages.rows, [{ value: '/posthog/landing', visitors: 1, page_views: 1 }])
      const overview = await read('/stats/web/overview')
      assert.equal(overview.totals.page_views, 1)
      assert.deepEqual(errors, [])
      assert.ok(calls.includes(`GET /array/${key}/config 200`), calls.join('\n'))
      assert.ok(calls.includes('POST /flags/ 200'), calls.join('\n'))
      assert.ok(
        calls.every((c) => c.endsWith(' 200')),
        calls.join('\n'),
      )
      await page.close()
    })
  })
