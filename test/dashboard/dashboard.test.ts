import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { activity } from '../helpers/activity.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { type Browser, launchChromium, skipUnlessChromium } from '../helpers/browser.ts'

// The dashboard in headless Chromium against a running service (embedded) that
// holds a known data set and wants an API key: what the page shows must be
// what the API answers. Screenshots land in test-artifacts/dashboard/.
const KEY = 'dashboard-test-key-0123456789'
const EVENTS = activity('2026-01-05', 45, 80)
const ARTIFACTS = new URL('../../test-artifacts/dashboard/', import.meta.url).pathname
const STATS_PANELS = ['dau', 'top-events', 'retention']

interface Cohort {
  start_date: string
  cohort_size: number
  retention: Array<{ week: number; retained_users: number; retention_rate: number }>
}

const int = (text: string | null) => Number((text ?? '').replace(/[,\s]/g, ''))

describe('dashboard at / in headless Chromium', { skip: skipUnlessChromium() }, () => {
  let t: TestApp
  let base: string
  let browser: Browser
  let page: Page
  const cspViolations: string[] = []

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${KEY}` } })
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`)
    return (await res.json()) as T
  }

  /** Waits until each panel is done loading (the given range, when named) and returns their states. */
  async function settled(range?: string, ids = STATS_PANELS): Promise<Record<string, string>> {
    await page.waitForFunction(
      ([ids, range]) =>
        ids.every((id) => {
          const el = document.getElementById(id)!
          return (
            el.dataset.state !== 'loading' &&
            (range === undefined || el.dataset.range === range || el.dataset.state === 'error')
          )
        }),
      [ids, range] as const,
    )
    return page.evaluate(
      (ids) =>
        Object.fromEntries(ids.map((id) => [id, document.getElementById(id)!.dataset.state!])),
      ids,
    )
  }

  /** Every number the three stats panels show, read from the page, equals the API's answer for the range. */
  async function assertPageMatchesApi(
    from: string,
    to: string,
    segments: string[] = [],
  ): Promise<void> {
    const filters = segments.map((f) => `&segment=${encodeURIComponent(f)}`).join('')
    const dau = await api<Array<{ date: string; unique_users: number }>>(
      `/stats/dau?from=${from}&to=${to}${filters}`,
    )
    const shownDau = await page.$$eval('#dau table.data tbody tr', (rows) =>
      rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
    )
    assert.deepEqual(
      shownDau.map(([date, users]) => ({ date, unique_users: int(users!) })),
      dau,
    )
    assert.ok(dau.some((d) => d.unique_users > 0))

    const top = await api<Array<{ event_type: string; count: number; unique_users: number }>>(
      `/stats/top-events?from=${from}&to=${to}&limit=10${filters}`,
    )
    const shownTop = await page.$$eval('#top-events table.bars tbody tr', (rows) =>
      rows.map((r) => [
        r.querySelector('.name')!.textContent,
        r.querySelector('.bar-label')!.textContent,
        r.querySelector('td:last-child')!.textContent,
      ]),
    )
    assert.deepEqual(
      shownTop.map(([event_type, count, users]) => ({
        event_type,
        count: int(count!),
        unique_users: int(users!),
      })),
      top,
    )

    // The heat map, cell by cell, against /stats/retention for each cohort week of the range.
    const shownCohorts = await page.$$eval('#retention table.heatmap tbody tr', (rows) =>
      rows.map((r) => ({
        start_date: (r as HTMLElement).dataset.cohort!,
        size: r.querySelector('.size')!.textContent,
        cells: [...r.querySelectorAll('td.cell')].map((c) => [
          c.querySelector('.rate')!.textContent,
          c.querySelector('.count')!.textContent,
        ]),
      })),
    )
    const weeks = Math.floor((Date.parse(to) - Date.parse(from)) / (7 * 86_400_000)) + 1
    assert.equal(shownCohorts.length, weeks, 'one row per cohort week in the range')
    for (const [c, shown] of shownCohorts.entries()) {
      const windows = weeks - 1 - c
      assert.equal(
        shown.cells.length,
        windows,
        `${shown.start_date}: one cell per later week of the range`,
      )
      const expected = await api<Cohort>(
        `/stats/retention?start_date=${shown.start_date}&windows=${Math.max(1, windows)}${filters}`,
      )
      assert.equal(
        shown.start_date,
        new Date(Date.parse(from) + 7 * c * 86_400_000).toISOString().slice(0, 10),
      )
      assert.equal(int(shown.size), expected.cohort_size, `${shown.start_date} cohort size`)
      assert.deepEqual(
        shown.cells,
        expected.retention
          .slice(0, windows)
          .map((w) => [
            expected.cohort_size === 0 ? '–' : `${w.retention_rate.toFixed(1)}%`,
            String(w.retained_users),
          ]),
        `${shown.start_date} cells`,
      )
    }
  }

  before(async () => {
    t = await startTestApp({ queue: false, env: { API_KEY: KEY } })
    for (let i = 0; i < EVENTS.length; i += 1000) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/events',
        headers: { authorization: `Bearer ${KEY}` },
        payload: EVENTS.slice(i, i + 1000),
      })
      assert.equal(res.statusCode, 201, res.body)
    }
    await t.deps.analytics!.catchUp()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
    mkdirSync(ARTIFACTS, { recursive: true })
    browser = await launchChromium()
    page = browser.context.pages()[0] ?? (await browser.context.newPage())
    await page.setViewportSize({ width: 1280, height: 900 })
    page.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(m.text())
    })
  })
  after(async () => {
    await browser?.close()
    await t?.close()
  })

  test('asks for a read key, keeps it for the browser session only, and uses it', async () => {
    await page.goto(`${base}/`)
    await page.waitForSelector('#key-form', { state: 'visible' })
    assert.deepEqual(await settled(), { dau: 'error', 'top-events': 'error', retention: 'error' })
    assert.match(
      (await page.textContent('#dau .panel-message'))!,
      /needs an API key with read access/,
    )

    await page.fill('#key-form input[name="key"]', KEY)
    await page.click('#key-form button[type="submit"]')
    const { last_day } = await api<{ last_day: string }>('/stats/range')
    const from = new Date(Date.parse(last_day) - 29 * 86_400_000).toISOString().slice(0, 10)
    assert.deepEqual(await settled(`${from}..${last_day}`), {
      dau: 'ready',
      'top-events': 'ready',
      retention: 'ready',
    })
    assert.equal(await page.isHidden('#key-form'), true)
    assert.deepEqual(
      await page.evaluate(() => [sessionStorage.length, localStorage.length, document.cookie]),
      [1, 0, ''],
    )
  })

  test("opens on the last 30 days holding data, and every number equals the API's", async () => {
    const { last_day } = await api<{ first_day: string; last_day: string }>('/stats/range')
    const from = new Date(Date.parse(last_day) - 29 * 86_400_000).toISOString().slice(0, 10)
    assert.equal(
      new URL(page.url()).search,
      `?from=${from}&to=${last_day}&project=default`,
      'the URL keeps the view',
    )
    assert.deepEqual(
      [await page.inputValue('input[name="from"]'), await page.inputValue('input[name="to"]')],
      [from, last_day],
    )
    await assertPageMatchesApi(from, last_day)
    // Visible to a person too: the heat map has colored cells, the chart a canvas.
    assert.ok((await page.$$('#retention td.cell')).length >= 6)
    assert.ok(await page.isVisible('#dau canvas'))
    await page.screenshot({ path: `${ARTIFACTS}desktop.png`, fullPage: true })
  })

  test('changing the range reloads every panel, and the link keeps it', async () => {
    await page.fill('input[name="from"]', '2026-01-05')
    await page.fill('input[name="to"]', '2026-01-27')
    await page.click('#range-form button[type="submit"]')
    assert.deepEqual(await settled('2026-01-05..2026-01-27'), {
      dau: 'ready',
      'top-events': 'ready',
      retention: 'ready',
    })
    assert.equal(new URL(page.url()).search, '?from=2026-01-05&to=2026-01-27&project=default')
    await assertPageMatchesApi('2026-01-05', '2026-01-27')

    // The same link in a fresh tab of the same session shows the same view.
    const shared = await browser.context.newPage()
    await shared.goto(`${base}/?from=2026-01-05&to=2026-01-27`)
    await shared.waitForFunction(
      () => document.getElementById('retention')!.dataset.state !== 'loading',
    )
    assert.equal(await shared.inputValue('input[name="to"]'), '2026-01-27')
    await shared.close()
  })

  test('a range without events says so in every panel', async () => {
    await page.goto(`${base}/?from=2025-01-01&to=2025-01-31`)
    assert.deepEqual(await settled('2025-01-01..2025-01-31'), {
      dau: 'empty',
      'top-events': 'empty',
      retention: 'empty',
    })
    for (const id of STATS_PANELS) {
      assert.equal(await page.textContent(`#${id} .panel-message`), 'No events in this range.')
      assert.equal(await page.isHidden(`#${id} .panel-body`), true)
    }
  })

  test('a 429 and a server error from the API show as messages, not blank charts', async () => {
    await page.route('**/stats/top-events?*', (route) =>
      route.fulfill({
        status: 429,
        headers: { 'retry-after': '7' },
        contentType: 'application/problem+json',
        body: JSON.stringify({
          type: 'about:blank',
          title: 'Too Many Requests',
          status: 429,
          code: 'RATE_LIMITED',
          detail: 'rate limit reached',
        }),
      }),
    )
    await page.route('**/stats/dau?*', (route) =>
      route.fulfill({
        status: 500,
        contentType: 'application/problem+json',
        body: JSON.stringify({
          type: 'about:blank',
          title: 'Internal Server Error',
          status: 500,
          code: 'INTERNAL_ERROR',
          detail: 'internal error',
        }),
      }),
    )
    try {
      await page.goto(`${base}/?from=2026-01-05&to=2026-02-15`)
      assert.deepEqual(await settled(), { dau: 'error', 'top-events': 'error', retention: 'ready' })
      assert.match(
        (await page.textContent('#top-events .panel-message'))!,
        /rate limit was reached\. Try again in 7 s/,
      )
      assert.match(
        (await page.textContent('#dau .panel-message'))!,
        /500 Internal Server Error: internal error/,
      )
      assert.equal(await page.getAttribute('#dau .panel-message', 'role'), 'alert')
      assert.equal(await page.isHidden('#dau .panel-body'), true)
    } finally {
      await page.unrouteAll()
    }
    // A range the API refuses shows the API's reason.
    await page.goto(`${base}/?from=2024-01-01&to=2026-01-01`)
    assert.equal((await settled()).dau, 'error')
    assert.match(
      (await page.textContent('#dau .panel-message'))!,
      /the range may span at most 366 days/,
    )
  })

  test('the ingestion panel shows the queue status and refreshes by itself', async () => {
    await page.goto(`${base}/`)
    await settled(undefined, ['live'])
    const status = await api<{ enabled: boolean; sync: { synced_rows: number } }>(
      '/events/queue/status',
    )
    assert.equal(status.enabled, false)
    assert.equal(
      await page.getAttribute('#live [data-field="synced_rows"]', 'data-value'),
      String(status.sync.synced_rows),
    )
    assert.equal(status.sync.synced_rows, EVENTS.length)
    assert.equal(await page.textContent('#live [data-field="queued_events"] dd'), 'off')
    await page.waitForFunction(() => Number(document.getElementById('live')!.dataset.polls) >= 2)
    assert.equal(
      await page.getAttribute('#live [data-field="events_per_second"]', 'data-value'),
      '0',
    )
  })

  test('stays readable on a phone-sized screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.goto(`${base}/`)
    assert.deepEqual(await settled(), { dau: 'ready', 'top-events': 'ready', retention: 'ready' })
    // Nothing wider than the screen except the heat map, which scrolls inside its panel.
    assert.ok(
      await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth),
      'no sideways scrolling',
    )
    assert.ok(
      (await page.evaluate(
        () => document.querySelector('#dau canvas')!.getBoundingClientRect().width,
      )) <= 390,
    )
    await page.screenshot({ path: `${ARTIFACTS}phone.png`, fullPage: true })
  })

  test('the filter bar applies segment= to every panel, and the link keeps the filters', async () => {
    await page.setViewportSize({ width: 1280, height: 900 })
    const [from, to] = ['2026-01-05', '2026-02-15']
    const ua = 'properties.country:UA'
    const types = 'event_type:in:click,purchase'
    const chips = () =>
      page.$$eval('#filter-list li', (items) =>
        items.map((li) => (li as HTMLElement).dataset.segment),
      )
    const segmentsInUrl = () => new URL(page.url()).searchParams.getAll('segment')
    const ready = { dau: 'ready', 'top-events': 'ready', retention: 'ready' }

    // A shared link opens with its filters.
    await page.goto(`${base}/?from=${from}&to=${to}&segment=${encodeURIComponent(ua)}`)
    await page.waitForSelector('#filters', { state: 'visible' })
    assert.deepEqual(await settled(`${from}..${to}`), ready)
    assert.deepEqual(await chips(), [ua])
    await assertPageMatchesApi(from, to, [ua])

    // Adding one through the form narrows every panel further.
    await page.fill('#filter-form input[name="segment"]', types)
    await page.click('#filter-form button[type="submit"]')
    assert.deepEqual(await settled(`${from}..${to}`), ready)
    assert.deepEqual(await chips(), [ua, types])
    assert.deepEqual(segmentsInUrl(), [ua, types])
    await assertPageMatchesApi(from, to, [ua, types])
    await page.screenshot({ path: `${ARTIFACTS}filtered.png`, fullPage: true })

    // Removing a chip reloads without it.
    await page.click(`#filter-list li[data-segment="${ua}"] .chip-remove`)
    assert.deepEqual(await settled(`${from}..${to}`), ready)
    assert.deepEqual(segmentsInUrl(), [types])
    await assertPageMatchesApi(from, to, [types])

    // A malformed filter shows the API's reason in the panels.
    await page.fill('#filter-form input[name="segment"]', 'country:UA')
    await page.click('#filter-form button[type="submit"]')
    assert.deepEqual(await settled(`${from}..${to}`), {
      dau: 'error',
      'top-events': 'error',
      retention: 'error',
    })
    assert.match(
      (await page.textContent('#dau .panel-message'))!,
      /the field must be event_type, user_id, properties.<path> or user.<trait>/,
    )
  })

  test('no Content-Security-Policy violation on any of these pages', () => {
    assert.deepEqual(cspViolations, [])
  })
})
