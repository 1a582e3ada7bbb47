import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { type ServerTestApp, startServerTestApp } from '../helpers/app.ts'
import { type Browser, launchChromium, skipUnlessChromium } from '../helpers/browser.ts'
import { skipUnless } from '../helpers/services.ts'
import type { ReferenceEvent } from '../stats/reference.ts'

// The web-analytics panels in headless Chromium: every number they show is
// what /stats/web/* answers for the same range and filters, a click on a
// value adds its filter to every panel, and the breakdown choosers reload
// their panel. Screenshots land in test-artifacts/dashboard/.
const ARTIFACTS = new URL('../../test-artifacts/dashboard/', import.meta.url).pathname
const LISTS = ['web-top-pages', 'web-entry-pages', 'web-exit-pages', 'web-sources', 'web-tech']
const PANELS = ['web-overview', ...LISTS]
const FROM = '2026-04-01'
const TO = '2026-04-10'

/** A deterministic pseudo-random sequence (a 32-bit LCG): the data set is the same on every run. */
function lcg(seed: number) {
  let s = seed >>> 0
  return (n: number) => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0
    return s % n
  }
}

/** Visits of page views (and a few clicks) by 30 users over ten days, with the browser script's properties. */
function webEvents(): ReferenceEvent[] {
  const r = lcg(17)
  const pick = <T>(xs: readonly T[]) => xs[r(xs.length)]!
  const events: ReferenceEvent[] = []
  let id = 0
  for (let u = 0; u < 30; u++) {
    const tech = {
      browser: pick(['Chrome', 'Firefox', 'Safari']),
      os: pick(['Windows', 'macOS', 'iOS', 'Android']),
      device: pick(['desktop', 'mobile', 'tablet']),
      screen_width: pick([1920, 1440, 390]),
      language: pick(['en-US', 'uk-UA']),
      ...(r(4) === 0 ? {} : { country: pick(['UA', 'PL', 'US']) }),
    }
    for (let v = 0; v < 1 + r(4); v++) {
      let t = Date.parse(`${FROM}T00:00:00Z`) + r(10) * 86_400_000 + r(86_400) * 1000
      const source = pick([
        { referrer: '', referrer_host: '' },
        { referrer: 'https://www.google.com/', referrer_host: 'www.google.com' },
        {
          referrer: 'https://t.co/x',
          referrer_host: 't.co',
          utm_source: 'twitter',
          utm_medium: 'social',
          utm_campaign: 'spring',
        },
      ])
      for (let e = 0; e < 1 + r(5); e++) {
        const view = r(5) !== 0
        events.push({
          event_id: `3eb00000-0000-4000-8000-${String(++id).padStart(12, '0')}`,
          occurred_at: new Date(t).toISOString(),
          user_id: `visitor-${u}`,
          event_type: view ? 'page_view' : 'click',
          properties: view
            ? {
                path: pick(['/', '/pricing', '/docs', '/blog/one', '/blog/two']),
                host: 'example.com',
                ...(e === 0 ? source : {}),
                ...tech,
              }
            : { target: 'buy' },
        })
        t += (1 + r(20)) * 60_000
      }
    }
  }
  return events
}

const int = (text: string | null) => Number((text ?? '').replace(/[,\s%]/g, ''))

describe('web-analytics panels in headless Chromium', {
  skip: skipUnlessChromium() || (await skipUnless('postgres')),
}, () => {
  let t: ServerTestApp
  let base: string
  let browser: Browser
  let page: Page

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${base}${path}`)
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`)
    return (await res.json()) as T
  }

  async function settled(range: string): Promise<Record<string, string>> {
    await page.waitForFunction(
      ([ids, range]) =>
        ids.every((id) => {
          const el = document.getElementById(id)!
          return (
            el.dataset.state !== 'loading' &&
            (el.dataset.range === range || el.dataset.state === 'error')
          )
        }),
      [PANELS, range] as const,
    )
    return page.evaluate(
      (ids) =>
        Object.fromEntries(ids.map((id) => [id, document.getElementById(id)!.dataset.state!])),
      PANELS,
    )
  }

  /** Every figure the web panels show equals the API's answer for the view. */
  async function assertPanelsMatchApi(from: string, to: string, segments: string[] = []) {
    const q = `from=${from}&to=${to}${segments.map((s) => `&segment=${encodeURIComponent(s)}`).join('')}`
    const hourly = (Date.parse(to) - Date.parse(from)) / 86_400_000 + 1 <= 3
    const overview = await api<{
      totals: Record<string, number>
      intervals: Array<{ start: string; visitors: number; page_views: number; visits: number }>
    }>(`/stats/web/overview?${q}&interval=${hourly ? 'hour' : 'day'}`)
    const tiles = await page.$$eval('#web-overview .tile', (els) =>
      els.map((e) => [(e as HTMLElement).dataset.field!, Number((e as HTMLElement).dataset.value)]),
    )
    const { bounces: _, ...shownTotals } = overview.totals
    assert.deepEqual(Object.fromEntries(tiles), shownTotals)
    const shownText = await page.$$eval('#web-overview .tile dd', (els) =>
      els.map((e) => e.textContent),
    )
    assert.equal(int(shownText[0]!), overview.totals.visitors)
    assert.equal(shownText[4], `${overview.totals.bounce_rate!.toFixed(1)}%`)
    const shownIntervals = await page.$$eval('#web-overview table.data tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
    )
    assert.deepEqual(
      shownIntervals.map(([start, visitors, views, visits]) => ({
        start,
        visitors: int(visitors!),
        page_views: int(views!),
        visits: int(visits!),
      })),
      overview.intervals,
    )

    const lists: Record<string, string> = {
      'web-top-pages': '/stats/web/pages?kind=top',
      'web-entry-pages': '/stats/web/pages?kind=entry',
      'web-exit-pages': '/stats/web/pages?kind=exit',
      'web-sources': `/stats/web/breakdown?by=${await page.getAttribute('#web-sources button[aria-pressed="true"]', 'data-by')}`,
      'web-tech': `/stats/web/breakdown?by=${await page.getAttribute('#web-tech button[aria-pressed="true"]', 'data-by')}`,
    }
    for (const [id, path] of Object.entries(lists)) {
      const { rows } = await api<{
        rows: Array<{
          value: string
          visitors: number
          page_views: number
          visits?: number
          bounce_rate?: number
        }>
      }>(`${path}&${q}&limit=10`)
      const shown = await page.$$eval(`#${id} tbody tr`, (trs) =>
        trs.map((tr) => ({
          value: (tr as HTMLElement).dataset.value!,
          label: tr.querySelector('button')!.textContent,
          visitors: tr.querySelector('.visitors')!.textContent,
          views: tr.querySelector('.views')?.textContent ?? null,
          visits: tr.querySelector('.visits')?.textContent ?? null,
          bounce: tr.querySelector('.bounce')?.textContent ?? null,
        })),
      )
      assert.deepEqual(
        shown.map((s) => ({
          value: s.value,
          label: s.label,
          visitors: int(s.visitors),
          ...(s.views === null
            ? { visits: int(s.visits), bounce: s.bounce }
            : { page_views: int(s.views) }),
        })),
        rows.map((r) => ({
          value: r.value,
          label: r.value === '' ? '(none)' : r.value,
          visitors: r.visitors,
          ...(r.visits === undefined
            ? { page_views: r.page_views }
            : { visits: r.visits, bounce: `${r.bounce_rate!.toFixed(1)}%` }),
        })),
        id,
      )
      assert.ok(rows.length > 0, `${id} has rows`)
    }
  }

  before(async () => {
    t = await startServerTestApp({ queue: false })
    const res = await t.app.inject({ method: 'POST', url: '/events', payload: webEvents() })
    assert.equal(res.statusCode, 201, res.body)
    await t.deps.analytics!.catchUp()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
    mkdirSync(ARTIFACTS, { recursive: true })
    browser = await launchChromium()
    page = browser.context.pages()[0] ?? (await browser.context.newPage())
    await page.setViewportSize({ width: 1280, height: 900 })
  })
  after(async () => {
    await browser?.close()
    await t?.close()
  })

  test("every web panel shows the API's numbers for the range", async () => {
    await page.goto(`${base}/?from=${FROM}&to=${TO}`)
    const states = await settled(`${FROM}..${TO}`)
    assert.deepEqual(states, Object.fromEntries(PANELS.map((id) => [id, 'ready'])))
    await assertPanelsMatchApi(FROM, TO)
    assert.ok(await page.isVisible('#web-overview canvas'))
    await page.screenshot({ path: `${ARTIFACTS}web-panels.png`, fullPage: true })
  })

  test('a clicked value becomes a filter of every panel, and the link keeps it', async () => {
    const path = await page.getAttribute('#web-top-pages tbody tr:nth-child(2)', 'data-value')
    await page.click('#web-top-pages tbody tr:nth-child(2) button')
    const segment = `properties.path:eq:${path}`
    await page.waitForSelector(`#filter-list li[data-segment="${segment}"]`)
    await settled(`${FROM}..${TO}`)
    assert.equal(new URL(page.url()).searchParams.getAll('segment').join(), segment)
    await assertPanelsMatchApi(FROM, TO, [segment])
    const { rows } = await api<{ rows: Array<{ value: string }> }>(
      `/stats/web/pages?kind=top&from=${FROM}&to=${TO}&segment=${encodeURIComponent(segment)}`,
    )
    assert.deepEqual(
      rows.map((r) => r.value),
      [path],
      'the filter keeps only that page',
    )

    // A second value, from a breakdown, adds to the first.
    await page.click('#web-tech button[data-by="country"]')
    await page.waitForFunction(() => {
      const el = document.getElementById('web-tech')!
      return (
        el.dataset.state === 'ready' &&
        /^(UA|PL|US)$/.test(el.querySelector('tbody tr')?.getAttribute('data-value') ?? '')
      )
    })
    const country = await page.getAttribute('#web-tech tbody tr:first-child', 'data-value')
    await page.click('#web-tech tbody tr:first-child button')
    const second = `properties.country:eq:${country}`
    await page.waitForSelector(`#filter-list li[data-segment="${second}"]`)
    await settled(`${FROM}..${TO}`)
    await assertPanelsMatchApi(FROM, TO, [segment, second])
  })

  test('a range of up to three days is shown by the hour', async () => {
    await page.goto(`${base}/?from=2026-04-03&to=2026-04-04`)
    await settled('2026-04-03..2026-04-04')
    assert.equal((await page.$$('#web-overview table.data tbody tr')).length, 48)
    await assertPanelsMatchApi('2026-04-03', '2026-04-04')
  })

  test('a range without events says so', async () => {
    await page.goto(`${base}/?from=2025-01-01&to=2025-01-31`)
    const states = await settled('2025-01-01..2025-01-31')
    assert.deepEqual(states, Object.fromEntries(PANELS.map((id) => [id, 'empty'])))
  })
})
