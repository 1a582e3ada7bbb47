import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { type ServerTestApp, startServerTestApp } from '../helpers/app.ts'
import { type Browser, launchChromium, skipUnlessChromium } from '../helpers/browser.ts'
import { skipUnless } from '../helpers/services.ts'
import type { ReferenceEvent } from '../stats/reference.ts'

// The insights page in headless Chromium: every number each insight shows is
// what its /stats endpoint answers for the same query, the query is in the URL
// (a link restores it, the builder's Apply writes it), the range and filters
// apply, and the page logs no console error. Screenshots land in
// test-artifacts/dashboard/.
const ARTIFACTS = new URL('../../test-artifacts/dashboard/', import.meta.url).pathname
const FROM = '2026-05-04'
const TO = '2026-05-24'
const DAY = 86_400_000

/** A deterministic pseudo-random sequence (a 32-bit LCG): the data set is the same on every run. */
function lcg(seed: number) {
  let s = seed >>> 0
  return (n: number) => {
    s = (Math.imul(s, 1_664_525) + 1_013_904_223) >>> 0
    return s % n
  }
}

/**
 * 60 users over five weeks (one before the range): each signs up, most view
 * items, some purchase (amount, plan), on several days, with page views
 * between, so every insight has figures that differ from step to step.
 */
function insightEvents(): ReferenceEvent[] {
  const r = lcg(18)
  const events: ReferenceEvent[] = []
  let id = 0
  const add = (user: string, t: number, type: string, properties: Record<string, unknown>) =>
    events.push({
      event_id: `18a00000-0000-4000-8000-${String(++id).padStart(12, '0')}`,
      occurred_at: new Date(t).toISOString(),
      user_id: user,
      event_type: type,
      properties,
    })
  for (let u = 0; u < 60; u++) {
    const user = `user-${u}`
    const plan = ['free', 'pro', 'team'][r(3)]!
    let t = Date.parse('2026-04-27T00:00:00Z') + r(28) * DAY + r(80_000) * 1000
    add(user, t, 'signup', { plan })
    const visits = 1 + r(6)
    for (let v = 0; v < visits; v++) {
      add(user, t + 60_000, 'page_view', { path: ['/', '/pricing', '/docs'][r(3)]! })
      if (r(4) !== 0) add(user, t + 120_000, 'view_item', { plan, item: `i${r(5)}` })
      if (r(3) === 0) add(user, t + 180_000, 'purchase', { plan, amount: 5 + r(50) })
      add(user, t + 240_000, 'page_view', { path: ['/pricing', '/checkout', '/docs'][r(3)]! })
      t += (1 + r(4)) * DAY + r(3_600) * 1000
    }
  }
  return events
}

interface StepRow {
  step: number
  event_type: string
  users: number
  conversion_from_first: number
  conversion_from_previous: number
  drop_off: number
}

const int = (text: string | null | undefined) => Number((text ?? '').replace(/[,\s%]/g, ''))

describe('insights page in headless Chromium', {
  skip: skipUnlessChromium() || (await skipUnless('postgres')),
}, () => {
  let t: ServerTestApp
  let base: string
  let browser: Browser
  let page: Page
  const consoleErrors: string[] = []

  async function api<T>(path: string): Promise<T> {
    const res = await fetch(`${base}${path}`)
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`)
    return (await res.json()) as T
  }

  /** Waits for an insight's panel to finish loading the range, and gives its state. */
  async function settled(name: string, range = `${FROM}..${TO}`): Promise<string> {
    await page.waitForFunction(
      ([id, range]) => {
        const el = document.getElementById(id)!
        return (
          !el.hidden &&
          el.dataset.state !== 'loading' &&
          (el.dataset.range === range || el.dataset.state === 'error')
        )
      },
      [`insight-${name}`, range] as const,
    )
    return (await page.getAttribute(`#insight-${name}`, 'data-state'))!
  }

  /** The insight's own part of the page URL, as the API takes it (page= and insight= dropped). */
  function apiQuery(): string {
    const q = new URL(page.url()).searchParams
    q.delete('page')
    q.delete('insight')
    return q.toString()
  }

  async function openInsight(query: string, name: string, range?: string) {
    await page.goto(`${base}/?${query}`)
    assert.equal(await settled(name, range), 'ready', `${name} is ready`)
  }

  async function assertFunnelMatchesApi(): Promise<StepRow[]> {
    const f = await api<{ steps: StepRow[]; breakdown?: unknown }>(`/stats/funnel?${apiQuery()}`)
    const shown = await page.$$eval('#insight-funnel table.funnel tbody tr', (trs) =>
      trs.map((tr) => ({
        step: Number((tr as HTMLElement).dataset.step),
        name: tr.querySelector('th')!.textContent,
        users: tr.querySelector('.users')!.textContent,
        conversion: tr.querySelector('.conversion')!.textContent,
        previous: tr.querySelector('.conversion-previous')!.textContent,
        drop: tr.querySelector('.drop-off')!.textContent,
      })),
    )
    assert.deepEqual(
      shown,
      f.steps.map((s) => ({
        step: s.step,
        name: `${s.step}. ${s.event_type}`,
        users: s.users.toLocaleString('en-US'),
        conversion: `${s.conversion_from_first.toFixed(1)}%`,
        previous: s.step === 1 ? '–' : `${s.conversion_from_previous.toFixed(1)}%`,
        drop: s.step === 1 ? '–' : s.drop_off.toLocaleString('en-US'),
      })),
    )
    return f.steps
  }

  before(async () => {
    t = await startServerTestApp({ queue: false })
    const res = await t.app.inject({ method: 'POST', url: '/events', payload: insightEvents() })
    assert.equal(res.statusCode, 201, res.body)
    await t.deps.analytics!.catchUp()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
    mkdirSync(ARTIFACTS, { recursive: true })
    browser = await launchChromium()
    page = browser.context.pages()[0] ?? (await browser.context.newPage())
    await page.setViewportSize({ width: 1280, height: 900 })
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text())
    })
    page.on('pageerror', (err) => consoleErrors.push(err.message))
  })
  after(async () => {
    await browser?.close()
    await t?.close()
  })

  test("a funnel link restores the builder, and the bars show the API's users, conversion and drop-off", async () => {
    const query = `from=${FROM}&to=${TO}&page=insights&insight=funnel&steps=signup&steps=view_item&steps=purchase&window=7d`
    await openInsight(query, 'funnel')
    assert.equal(
      new URL(page.url()).search,
      `?${query.replace('&page=', '&project=default&page=')}`,
      'the URL keeps the query, the project named',
    )
    assert.deepEqual(
      await page.$$eval('#insight-funnel form input[name="steps"]', (els) =>
        els.map((e) => (e as HTMLInputElement).value),
      ),
      ['signup', 'view_item', 'purchase'],
    )
    assert.equal(await page.inputValue('#insight-funnel input[name="window"]'), '7d')
    assert.equal(await page.getAttribute('#to-insights', 'aria-current'), 'page')
    assert.equal(await page.isHidden('#overview-page'), true)
    const steps = await assertFunnelMatchesApi()
    assert.ok(steps[0]!.users > steps[1]!.users && steps[1]!.users > steps[2]!.users)
    assert.ok(steps[2]!.users > 0, 'the data set reaches the last step')
    await page.screenshot({ path: `${ARTIFACTS}insights-funnel.png`, fullPage: true })
  })

  test('the builder writes its query to the URL: order, window, a fourth step, a breakdown', async () => {
    await page.selectOption('#insight-funnel select[name="order"]', 'strict')
    await page.fill('#insight-funnel input[name="window"]', '30d')
    await page.click('#insight-funnel button.add-step')
    await page.fill('#insight-funnel li:nth-child(4) input[name="steps"]', 'page_view')
    await page.fill('#insight-funnel input[name="breakdown"]', 'properties.plan')
    await page.click('#insight-funnel button[type="submit"]')
    await page.waitForFunction(() => new URL(location.href).searchParams.get('order') === 'strict')
    assert.equal(await settled('funnel'), 'ready')
    const q = new URL(page.url()).searchParams
    assert.deepEqual(q.getAll('steps'), ['signup', 'view_item', 'purchase', 'page_view'])
    assert.deepEqual([q.get('window'), q.get('breakdown')], ['30d', 'properties.plan'])
    await assertFunnelMatchesApi()
    const f = await api<{
      breakdown: { values: Array<{ value: unknown; steps: StepRow[] }> }
    }>(`/stats/funnel?${apiQuery()}`)
    const shown = await page.$$eval('#insight-funnel table.breakdown tbody tr', (trs) =>
      trs.map((tr) => [
        (tr as HTMLElement).dataset.value,
        [...tr.querySelectorAll('td')].map((td) => Number((td as HTMLElement).dataset.users)),
      ]),
    )
    assert.deepEqual(
      shown.slice(0, f.breakdown.values.length),
      f.breakdown.values.map((v) => [JSON.stringify(v.value), v.steps.map((s) => s.users)]),
    )
    assert.deepEqual(f.breakdown.values.map((v) => v.value).sort(), ['free', 'pro', 'team'])

    // The back button goes to the query before, and the page shows it again.
    await page.goBack()
    await page.waitForFunction(() => new URL(location.href).searchParams.get('order') === null)
    assert.equal(await settled('funnel'), 'ready')
    assert.equal(await page.inputValue('#insight-funnel select[name="order"]'), 'ordered')
    await assertFunnelMatchesApi()
  })

  test('the range and the filters apply to the funnel', async () => {
    const segment = 'properties.plan:pro'
    const query = `from=2026-05-11&to=2026-05-17&segment=${encodeURIComponent(segment)}&page=insights&insight=funnel&steps=signup&steps=purchase`
    await openInsight(query, 'funnel', '2026-05-11..2026-05-17')
    assert.equal(await page.isVisible(`#filter-list li[data-segment="${segment}"]`), true)
    const steps = await assertFunnelMatchesApi()
    const all = await api<{ steps: StepRow[] }>(
      '/stats/funnel?from=2026-05-11&to=2026-05-17&steps=signup&steps=purchase',
    )
    assert.ok(steps[0]!.users < all.steps[0]!.users, 'the filter narrows the funnel')
  })

  test('trends: several series, the previous period, by week', async () => {
    const series = [
      { event_type: 'purchase', measure: 'count' },
      { event_type: 'view_item', measure: 'unique_users' },
      { event_type: 'purchase', measure: 'sum:properties.amount' },
    ]
    const query = `from=${FROM}&to=${TO}&page=insights&insight=trends&${series.map((s) => `series=${encodeURIComponent(JSON.stringify(s))}`).join('&')}&interval=week&compare=previous`
    await openInsight(query, 'trends')
    const tr = await api<{
      series: Array<{
        points: Array<{ start: string; value: number | null }>
        previous: Array<{ value: number | null }>
      }>
    }>(`/stats/trends?${apiQuery()}`)
    const rows = await page.$$eval('#insight-trends table.trends tbody tr', (trs) =>
      trs.map((r) => ({
        start: (r as HTMLElement).dataset.start,
        values: [...r.querySelectorAll('td[data-series]')].map((td) => td.textContent),
      })),
    )
    assert.deepEqual(
      rows,
      tr.series[0]!.points.map((p, i) => ({
        start: p.start,
        values: tr.series.flatMap((s) =>
          [s.points[i]!.value, s.previous[i]!.value].map((v) => (v ?? '–').toLocaleString('en-US')),
        ),
      })),
    )
    assert.equal(rows.length, 3, 'three Monday weeks')
    assert.ok(
      tr.series[0]!.previous.some((p) => (p.value ?? 0) > 0),
      'the week before has purchases',
    )
    assert.equal(await page.isVisible('#insight-trends canvas'), true)
    // uPlot's legend names each line, the previous ones too (drawn dashed).
    const legend = await page.$$eval('#insight-trends .u-legend .u-label', (els) =>
      els.map((e) => e.textContent),
    )
    assert.deepEqual(legend.slice(1), [
      'purchase · count',
      'purchase · count, previous',
      'view_item · unique_users',
      'view_item · unique_users, previous',
      'purchase · sum:properties.amount',
      'purchase · sum:properties.amount, previous',
    ])
    assert.equal(await page.isChecked('#insight-trends input[name="compare"]'), true)
    await page.screenshot({ path: `${ARTIFACTS}insights-trends.png`, fullPage: true })
  })

  test('active users, stickiness and lifecycle show the API numbers', async () => {
    await openInsight(`from=${FROM}&to=${TO}&page=insights&insight=active-users`, 'active-users')
    const au = await api<Array<{ date: string; dau: number; wau: number; mau: number }>>(
      `/stats/active-users?from=${FROM}&to=${TO}`,
    )
    const shownAu = await page.$$eval('#insight-active-users table.active-users tbody tr', (trs) =>
      trs.map((r) => ({
        date: (r as HTMLElement).dataset.date,
        dau: r.querySelector('.dau')!.textContent,
        wau: r.querySelector('.wau')!.textContent,
        mau: r.querySelector('.mau')!.textContent,
      })),
    )
    assert.deepEqual(
      shownAu.map((r) => ({ date: r.date, dau: int(r.dau), wau: int(r.wau), mau: int(r.mau) })),
      au,
    )
    assert.equal(au.length, 21)
    assert.equal(await page.isVisible('#insight-active-users canvas'), true)
    await page.screenshot({ path: `${ARTIFACTS}insights-active-users.png`, fullPage: true })

    // The tab goes to stickiness; its form writes the event type and interval.
    await page.click('nav.tabs a[data-insight="stickiness"]')
    assert.equal(await settled('stickiness'), 'ready')
    await page.fill('#insight-stickiness input[name="event_type"]', 'view_item')
    await page.click('#insight-stickiness button[type="submit"]')
    await page.waitForFunction(
      () => new URL(location.href).searchParams.get('event_type') === 'view_item',
    )
    assert.equal(await settled('stickiness'), 'ready')
    const st = await api<{ counts: Array<{ intervals: number; users: number }> }>(
      `/stats/stickiness?${apiQuery()}`,
    )
    const shownSt = await page.$$eval('#insight-stickiness table.stickiness tbody tr', (trs) =>
      trs.map((r) => ({
        intervals: Number((r as HTMLElement).dataset.intervals),
        users: r.querySelector('.users')!.textContent,
      })),
    )
    assert.deepEqual(
      shownSt.map((r) => ({ intervals: r.intervals, users: int(r.users) })),
      st.counts.slice(0, Math.max(...st.counts.filter((c) => c.users > 0).map((c) => c.intervals))),
      'every count up to the most days anyone did it',
    )
    assert.equal(st.counts.length, 21)
    assert.match(
      (await page.textContent('#insight-stickiness .note'))!,
      /none on more than \d+ days/,
    )
    assert.ok(st.counts.filter((c) => c.users > 0).length >= 3)
    await page.screenshot({ path: `${ARTIFACTS}insights-stickiness.png`, fullPage: true })

    await openInsight(
      `from=${FROM}&to=${TO}&page=insights&insight=lifecycle&interval=week&event_type=page_view`,
      'lifecycle',
    )
    const lc = await api<Array<Record<string, number | string>>>(`/stats/lifecycle?${apiQuery()}`)
    const shownLc = await page.$$eval('#insight-lifecycle table.lifecycle tbody tr', (trs) =>
      trs.map((r) => ({
        start: (r as HTMLElement).dataset.start,
        ...Object.fromEntries(
          ['new', 'returning', 'resurrecting', 'dormant'].map((k) => [
            k,
            Number(r.querySelector(`.${k}`)!.textContent!.replace(/,/g, '')),
          ]),
        ),
      })),
    )
    assert.deepEqual(shownLc, lc)
    assert.ok(
      lc.some((r) => (r.dormant as number) < 0),
      'some users go dormant',
    )
    // The chart draws the dormant below the zero line: one rect per non-zero figure.
    const rects = await page.$$eval('#insight-lifecycle svg rect', (els) => els.length)
    const nonZero = lc.reduce(
      (n, r) =>
        n + ['new', 'returning', 'resurrecting', 'dormant'].filter((k) => r[k] !== 0).length,
      0,
    )
    assert.equal(rects, nonZero)
    await page.screenshot({ path: `${ARTIFACTS}insights-lifecycle.png`, fullPage: true })
  })

  test('paths: the Sankey and its table show the transitions the API answers', async () => {
    await openInsight(
      `from=${FROM}&to=${TO}&page=insights&insight=paths&start=event:signup&steps=4`,
      'paths',
    )
    const p = await api<{
      nodes: Array<{ step: number; name: string; users: number }>
      transitions: Array<{ step: number; from: string; to: string; users: number; events: number }>
    }>(`/stats/paths?${apiQuery()}`)
    const rows = await page.$$eval('#insight-paths table.paths tbody tr', (trs) =>
      trs.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
    )
    assert.deepEqual(
      rows,
      p.transitions.map((t) => [String(t.step), t.from, t.to, String(t.users), String(t.events)]),
    )
    assert.ok(p.transitions.length >= 5, 'the data set has several paths')
    const nodes = await page.$$eval('#insight-paths svg g.node', (gs) =>
      gs.map((g) => {
        const d = (g as SVGGElement).dataset
        return { step: Number(d.step), name: d.name!, users: Number(d.users) }
      }),
    )
    assert.deepEqual(nodes, p.nodes)
    const bands = await page.$$eval('#insight-paths svg path', (ps) => ps.length)
    assert.equal(bands, p.transitions.length)
    assert.equal(await page.inputValue('#insight-paths input[name="value"]'), 'signup')
    assert.equal(await page.inputValue('#insight-paths input[name="steps"]'), '4')

    // The form asks for paths ending at a page instead.
    await page.selectOption('#insight-paths select[name="side"]', 'ending at')
    await page.selectOption('#insight-paths select[name="kind"]', 'page')
    await page.fill('#insight-paths input[name="value"]', '/checkout')
    await page.click('#insight-paths button[type="submit"]')
    await page.waitForFunction(
      () => new URL(location.href).searchParams.get('end') === 'page:/checkout',
    )
    assert.equal(await settled('paths'), 'ready')
    const ending = await api<{ transitions: Array<{ to: string }> }>(`/stats/paths?${apiQuery()}`)
    assert.equal(
      await page.$$eval('#insight-paths table.paths tbody tr', (trs) => trs.length),
      ending.transitions.length,
    )
    await page.screenshot({ path: `${ARTIFACTS}insights-paths.png`, fullPage: true })
  })

  test('the range form and the filter bar keep the insight and its query', async () => {
    await openInsight(
      `from=${FROM}&to=${TO}&page=insights&insight=funnel&steps=signup&steps=view_item`,
      'funnel',
    )
    await page.fill('input[name="from"]', '2026-05-10')
    await page.fill('input[name="to"]', '2026-05-20')
    await page.click('#range-form button[type="submit"]')
    assert.equal(await settled('funnel', '2026-05-10..2026-05-20'), 'ready')
    const q = new URL(page.url()).searchParams
    assert.deepEqual(
      [q.get('page'), q.get('insight'), q.getAll('steps')],
      ['insights', 'funnel', ['signup', 'view_item']],
    )
    await assertFunnelMatchesApi()

    await page.fill('#filter-form input[name="segment"]', 'properties.plan:team')
    await page.click('#filter-form button[type="submit"]')
    await page.waitForFunction(() => new URL(location.href).searchParams.has('segment'))
    assert.equal(await settled('funnel', '2026-05-10..2026-05-20'), 'ready')
    assert.equal(new URL(page.url()).searchParams.get('insight'), 'funnel')
    await assertFunnelMatchesApi()
  })

  test('the page links switch between overview and insights, keeping the range, and the last insight', async () => {
    await openInsight(
      `from=${FROM}&to=${TO}&page=insights&insight=stickiness&interval=week`,
      'stickiness',
    )
    await page.click('#to-overview')
    await page.waitForFunction(() => document.getElementById('dau')!.dataset.state === 'ready')
    assert.equal(new URL(page.url()).search, `?from=${FROM}&to=${TO}&project=default`)
    assert.equal(await page.isHidden('#insights-page'), true)
    await page.click('#to-insights')
    assert.equal(await settled('stickiness'), 'ready')
    assert.equal(new URL(page.url()).searchParams.get('interval'), 'week')
    assert.equal(await page.inputValue('#insight-stickiness select[name="interval"]'), 'week')
  })

  test('a range without events says so in every insight', async () => {
    const empty = '2025-01-01..2025-01-31'
    const queries: Record<string, string> = {
      funnel: 'steps=signup&steps=purchase',
      trends: '',
      'active-users': '',
      stickiness: '',
      lifecycle: '',
      paths: 'start=event:signup',
    }
    for (const [name, query] of Object.entries(queries)) {
      await page.goto(
        `${base}/?from=2025-01-01&to=2025-01-31&page=insights&insight=${name}&${query}`,
      )
      assert.equal(await settled(name, empty), 'empty', name)
      assert.match((await page.textContent(`#insight-${name} .panel-message`))!, /range/, name)
    }
    // A funnel without its steps asks for them rather than asking the API.
    await page.goto(`${base}/?from=${FROM}&to=${TO}&page=insights&insight=funnel`)
    assert.equal(await settled('funnel'), 'empty')
    assert.match(
      (await page.textContent('#insight-funnel .panel-message'))!,
      /Choose 2 to 10 steps/,
    )
    assert.equal(await page.$$eval('#insight-funnel input[name="steps"]', (els) => els.length), 2)
  })

  test('on a phone the builder and the Sankey fit the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    try {
      await openInsight(
        `from=${FROM}&to=${TO}&page=insights&insight=funnel&steps=signup&steps=view_item&steps=purchase`,
        'funnel',
      )
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - innerWidth)
      assert.ok(overflow <= 0, `the page is ${overflow}px wider than the screen`)
      await page.screenshot({ path: `${ARTIFACTS}insights-phone.png`, fullPage: true })
    } finally {
      await page.setViewportSize({ width: 1280, height: 900 })
    }
  })

  test('no console error on any of it', () => {
    assert.deepEqual(consoleErrors, [])
  })

  // Last: the browser logs a refused request as a console error, which is right here.
  test('a query the API refuses shows its message, naming the field', async () => {
    await page.goto(
      `${base}/?from=${FROM}&to=${TO}&page=insights&insight=funnel&steps=signup&steps=purchase&window=91d`,
    )
    assert.equal(await settled('funnel'), 'error')
    assert.equal(await page.getAttribute('#insight-funnel', 'data-status'), '422')
    assert.match((await page.textContent('#insight-funnel .panel-message'))!, /window/)
    assert.equal(await page.inputValue('#insight-funnel input[name="window"]'), '91d')
  })
})
