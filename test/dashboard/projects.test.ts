import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import type { Page } from 'playwright-core'
import { activity } from '../helpers/activity.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { type Browser, launchChromium, skipUnlessChromium } from '../helpers/browser.ts'

// The dashboard's project picker in headless Chromium: two projects over the
// same days with different data (default: 3 users, web: 5), first on an open
// service (no keys: the page may read both and offers a choice), then with a
// key of web (one project: its name in the header, no choice). Whatever the
// page shows must be what the API answers for the project it names.
const DEFAULT_EVENTS = activity('2026-01-05', 28, 3)
const WEB_EVENTS = activity('2026-01-05', 28, 5)
const ARTIFACTS = new URL('../../test-artifacts/dashboard/', import.meta.url).pathname
const PANELS = ['dau', 'top-events', 'retention', 'live']

interface Shown {
  dau: Array<{ date: string; unique_users: number }>
  top: Array<{ event_type: string; count: number; unique_users: number }>
  cohorts: Array<{ start_date: string; size: string; cells: string[][] }>
  synced_rows: number
}

interface Cohort {
  start_date: string
  cohort_size: number
  retention: Array<{ retained_users: number; retention_rate: number }>
}

const int = (text: string | null) => Number((text ?? '').replace(/[,\s]/g, ''))

describe('dashboard project picker in headless Chromium', { skip: skipUnlessChromium() }, () => {
  let t: TestApp
  let base: string
  let browser: Browser
  let page: Page
  let webKey: string | undefined
  const cspViolations: string[] = []

  function watch(p: Page): void {
    p.on('console', (m) => {
      if (/Content[- ]Security[- ]Policy/i.test(m.text())) cspViolations.push(m.text())
    })
  }

  async function api<T>(path: string): Promise<T> {
    const headers: Record<string, string> = webKey ? { authorization: `Bearer ${webKey}` } : {}
    const res = await fetch(`${base}${path}`, { headers })
    assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`)
    return (await res.json()) as T
  }

  /** Waits until every panel is ready and shows `project` (and `range`, when named). */
  async function settled(p: Page, project: string, range?: string): Promise<void> {
    await p
      .waitForFunction(
        ([ids, project, range]) =>
          ids.every((id) => {
            const el = document.getElementById(id)!
            return (
              el.dataset.state === 'ready' &&
              el.dataset.project === project &&
              (range === undefined || id === 'live' || el.dataset.range === range)
            )
          }),
        [PANELS, project, range] as const,
      )
      .catch(async (err: Error) => {
        // Say what the panels show instead, rather than only that the wait ran out.
        const states = await p.$$eval('.panel', (els) =>
          els.map((el) => {
            const { state, project, range } = (el as HTMLElement).dataset
            return `${el.id}: ${state} ${project}@${range} ${el.querySelector('.panel-message')?.textContent}`
          }),
        )
        throw new Error(`${err.message}\npanels: ${states.join('; ')}`)
      })
  }

  /** Every number the panels show, read from the page. */
  async function shown(p: Page): Promise<Shown> {
    return {
      dau: (
        await p.$$eval('#dau table.data tbody tr', (rows) =>
          rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)),
        )
      ).map(([date, users]) => ({ date: date!, unique_users: int(users!) })),
      top: (
        await p.$$eval('#top-events table.bars tbody tr', (rows) =>
          rows.map((r) => [
            r.querySelector('.name')!.textContent,
            r.querySelector('.bar-label')!.textContent,
            r.querySelector('td:last-child')!.textContent,
          ]),
        )
      ).map(([event_type, count, users]) => ({
        event_type: event_type!,
        count: int(count!),
        unique_users: int(users!),
      })),
      cohorts: await p.$$eval('#retention table.heatmap tbody tr', (rows) =>
        rows.map((r) => ({
          start_date: (r as HTMLElement).dataset.cohort!,
          size: r.querySelector('.size')!.textContent!,
          cells: [...r.querySelectorAll('td.cell')].map((c) => [
            c.querySelector('.rate')!.textContent!,
            c.querySelector('.count')!.textContent!,
          ]),
        })),
      ),
      synced_rows: Number(await p.getAttribute('#live [data-field="synced_rows"]', 'data-value')),
    }
  }

  /** The same numbers as the API answers them for `project` (none: the key's own). */
  async function answered(from: string, to: string, project?: string): Promise<Shown> {
    const q = `from=${from}&to=${to}${project ? `&project=${project}` : ''}`
    const only = project ? `?project=${project}` : ''
    const { cohorts } = await api<{ cohorts: Cohort[] }>(`/stats/cohorts?${q}`)
    return {
      dau: await api(`/stats/dau?${q}`),
      top: await api(`/stats/top-events?${q}&limit=10`),
      cohorts: cohorts.map((c) => ({
        start_date: c.start_date,
        size: String(c.cohort_size),
        cells: c.retention.map((w) => [
          c.cohort_size === 0 ? '–' : `${w.retention_rate.toFixed(1)}%`,
          String(w.retained_users),
        ]),
      })),
      synced_rows: (await api<{ sync: { synced_rows: number } }>(`/events/queue/status${only}`))
        .sync.synced_rows,
    }
  }

  const options = (p: Page) =>
    p.$$eval('#project-picker select option', (os) => os.map((o) => (o as HTMLOptionElement).value))
  const urlProject = (p: Page) => new URL(p.url()).searchParams.get('project')

  before(async () => {
    t = await startTestApp({ queue: false })
    await t.deps.projects.create('web')
    for (const [project, events] of [
      ['default', DEFAULT_EVENTS],
      ['web', WEB_EVENTS],
    ] as const) {
      const res = await t.app.inject({
        method: 'POST',
        url: `/events?project=${project}`,
        payload: events,
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
    browser.context.on('page', watch)
    watch(page)
  })
  after(async () => {
    await browser?.close()
    await t?.close()
  })

  test('an open service: the picker offers both projects, and each shows its own numbers', async () => {
    await page.goto(`${base}/`)
    await settled(page, 'default')
    assert.deepEqual(await options(page), ['default', 'web'])
    assert.equal(await page.inputValue('#project-picker select'), 'default')
    assert.equal(await page.isHidden('#project-name'), true)
    assert.equal(urlProject(page), 'default')
    const from = await page.inputValue('input[name="from"]')
    const to = await page.inputValue('input[name="to"]')
    const { last_day } = await api<{ last_day: string }>('/stats/range?project=default')
    assert.equal(to, last_day, "the range opens on default's last 30 days with data")

    const defaults = await answered(from, to, 'default')
    const webs = await answered(from, to, 'web')
    assert.notDeepEqual(defaults.dau, webs.dau, 'the projects hold different data')
    assert.notDeepEqual(defaults.top, webs.top)
    assert.equal(defaults.synced_rows, DEFAULT_EVENTS.length)
    assert.equal(webs.synced_rows, WEB_EVENTS.length)
    assert.deepEqual(await shown(page), defaults)

    // Choosing web reloads every panel with web's numbers, the range kept, and the link names it.
    await page.selectOption('#project-picker select', 'web')
    await settled(page, 'web', `${from}..${to}`)
    assert.deepEqual(await shown(page), webs)
    assert.deepEqual(Object.fromEntries(new URL(page.url()).searchParams), {
      from,
      to,
      project: 'web',
    })
    await page.screenshot({ path: `${ARTIFACTS}projects.png`, fullPage: true })

    // The back button returns to default.
    await page.goBack()
    await settled(page, 'default', `${from}..${to}`)
    assert.equal(await page.inputValue('#project-picker select'), 'default')
    assert.deepEqual(await shown(page), defaults)

    // The link opens on web directly, in a fresh tab.
    const shared = await browser.context.newPage()
    try {
      await shared.goto(`${base}/?from=${from}&to=${to}&project=web`)
      await settled(shared, 'web', `${from}..${to}`)
      assert.equal(await shared.inputValue('#project-picker select'), 'web')
      assert.deepEqual(await shown(shared), webs)
      assert.equal(urlProject(shared), 'web')
    } finally {
      await shared.close()
    }
  })

  test("with web's read key: no picker, the header names web, and the numbers are web's", async () => {
    webKey = (await t.deps.apiKeys.create('read', 'web dashboard', (await web()).id)).key
    const tab = await browser.context.newPage() // a tab of its own: no key in its session yet
    try {
      await tab.goto(`${base}/`)
      await tab.waitForSelector('#key-form', { state: 'visible' })
      await tab.fill('#key-form input[name="key"]', webKey)
      await tab.click('#key-form button[type="submit"]')
      await settled(tab, 'web')
      assert.equal(await tab.isHidden('#project-picker'), true)
      assert.equal(await tab.locator('select:visible').count(), 0)
      assert.equal(await tab.textContent('#project-name strong'), 'web')
      assert.equal(await tab.isVisible('#project-name'), true)
      const from = await tab.inputValue('input[name="from"]')
      const to = await tab.inputValue('input[name="to"]')
      const { last_day } = await api<{ last_day: string }>('/stats/range')
      assert.equal(to, last_day, "web's last day with data")
      // The key's own project, as the API answers it with no project named.
      assert.deepEqual(await shown(tab), await answered(from, to))
      assert.equal(urlProject(tab), 'web')

      // A link naming a project this key cannot read shows the key's own, and says so.
      await tab.goto(`${base}/?from=${from}&to=${to}&project=default`)
      await settled(tab, 'web', `${from}..${to}`)
      assert.match(
        (await tab.textContent('#project-note'))!,
        /This key reads no project "default": showing "web"/,
      )
      assert.equal(urlProject(tab), 'web')
      assert.deepEqual(await shown(tab), await answered(from, to))
    } finally {
      await tab.close()
    }
  })

  test('no Content-Security-Policy violation on these pages', () => {
    assert.deepEqual(cspViolations, [])
  })

  async function web() {
    const project = await t.deps.projects.byName('web')
    assert.ok(project)
    return project
  }
})
