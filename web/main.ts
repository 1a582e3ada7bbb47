import 'uplot/dist/uPlot.min.css'
import './style.css'
import { ApiError, getJson, storedKey, storeKey } from './api.ts'
import { Panel } from './panel.ts'
import { fetchDau, followWidth, loadDau } from './panels/dau.ts'
import { renderFilters, segmentsSupported } from './panels/filters.ts'
import { InsightsPage, resolveInsight } from './panels/insights-page.ts'
import { LivePanel } from './panels/live.ts'
import { loadRetention } from './panels/retention.ts'
import { loadTopEvents } from './panels/top-events.ts'
import { WebPanels } from './panels/web-panels.ts'
import { fetchProjects, type ProjectInfo, ProjectPicker } from './project-picker.ts'
import {
  addDays,
  type InsightQuery,
  projectParams,
  readUrl,
  statsParams,
  today,
  type View,
  writeUrl,
} from './view.ts'

const $ = <T extends HTMLElement>(selector: string): T => document.querySelector<T>(selector)!

const rangeForm = $<HTMLFormElement>('#range-form')
const keyForm = $<HTMLFormElement>('#key-form')
const forgetKey = $<HTMLButtonElement>('#forget-key')
const filterBar = $<HTMLElement>('#filters')
const filterForm = $<HTMLFormElement>('#filter-form')
const overviewPage = $<HTMLElement>('#overview-page')
const toOverview = $<HTMLAnchorElement>('#to-overview')
const toInsights = $<HTMLAnchorElement>('#to-insights')

// A 401 from any panel means the service wants a key: ask for one.
const onPanelError = (err: unknown) => {
  if (err instanceof ApiError && err.status === 401) askForKey()
}
const web = new WebPanels(onPanelError, addSegment)
const insights = new InsightsPage(onPanelError, (insight) => {
  if (view) show({ ...view, insight }, 'push')
})
/** the insight last shown, which the Insights link goes back to */
let lastInsight: InsightQuery = { name: 'funnel', params: [] }
const panels = {
  dau: new Panel($('#dau'), onPanelError),
  top: new Panel($('#top-events'), onPanelError),
  retention: new Panel($('#retention'), onPanelError),
  ...web.panels,
  ...insights.panels,
}
const live = new LivePanel(new Panel($('#live'), onPanelError))
const picker = new ProjectPicker($('#project'), (name) => {
  project = name
  live.follow(name)
  if (view) show({ ...view, project: name }, 'push')
  else void openFromUrl(name)
})

let view: View | undefined
/** what GET /projects answered for the key in use; asked again when the key changes */
let projects: ProjectInfo[] | null | undefined
/** the project shown, or being opened; undefined until the projects are known */
let project: string | null | undefined
/** each project's last day holding events, asked once per project and key */
const lastDays = new Map<string, string | null>()
let inFlight: AbortController | undefined
let opening = 0

/** The project's last day holding events; presets and the default range end there. */
async function lastDay(name: string | null): Promise<string> {
  const known = lastDays.get(name ?? '')
  if (known !== undefined) return known ?? today()
  const { last_day } = await getJson<{ last_day: string | null }>(
    '/stats/range',
    projectParams(name),
  )
  lastDays.set(name ?? '', last_day)
  return last_day ?? today()
}

/**
 * Works out the view from the URL and loads it: the project it names (or
 * `wanted`) when the key may read it, else the first the key may read; the
 * last 30 days with data when it names no range.
 */
async function openFromUrl(wanted?: string): Promise<void> {
  const run = ++opening
  const url = readUrl()
  const stats = Object.values(panels)
  // The link's range shows at once, even while a key is still to be entered.
  if (url.from) rangeForm.from.value = url.from
  if (url.to) rangeForm.to.value = url.to
  if (projects === undefined) {
    for (const p of stats) p.loading()
    let list: ProjectInfo[] | null
    try {
      list = await fetchProjects()
    } catch (err) {
      if (run !== opening) return // a newer open (a key entered, the back button) took over
      picker.clear()
      live.fail(err)
      for (const p of stats) p.fail(err)
      return
    }
    if (run !== opening) return // its answer may be for another key
    projects = list
  }
  const chosen = picker.choose(projects, wanted ?? url.project)
  project = chosen
  live.follow(chosen)
  let to = url.to
  let from = url.from
  if (!to || !from) {
    for (const p of stats) p.loading()
    try {
      to ??= await lastDay(chosen)
    } catch (err) {
      if (run === opening) for (const p of stats) p.fail(err)
      return
    }
    if (run !== opening) return
    from ??= addDays(to, -29)
  }
  show(
    {
      from,
      to,
      segments: url.segments,
      project: chosen,
      ...(url.insight ? { insight: resolveInsight(url.insight).query } : {}),
    },
    'replace',
  )
}

/** Shows a view: the URL and the controls follow it, and every panel reloads. */
function show(next: View, history: 'push' | 'replace'): void {
  view = next
  writeUrl(view, history)
  rangeForm.from.value = view.from
  rangeForm.to.value = view.to
  renderFilters($('#filter-list'), view.segments, (segments) => show({ ...next, segments }, 'push'))

  inFlight?.abort()
  inFlight = new AbortController()
  const { signal } = inFlight
  const v = view
  showPage(v)
  if (v.insight) {
    lastInsight = v.insight
    insights.show({ ...v, insight: v.insight }, signal)
    return
  }
  const dau = fetchDau(v, signal)
  dau.catch(() => {}) // its panel shows the error
  const rangeHasEvents = () =>
    dau.then(
      (rows) => rows.some((r) => r.unique_users > 0),
      () => true,
    )
  void panels.dau.load(v, () => loadDau(panels.dau, dau))
  void panels.top.load(v, () => loadTopEvents(panels.top, v, signal))
  void panels.retention.load(v, () => loadRetention(panels.retention, v, signal, rangeHasEvents))
  web.load(v, signal)
}

/** Which page shows, and where the two page links lead from this view (range, filters, project kept). */
function showPage(v: View): void {
  overviewPage.hidden = v.insight !== undefined
  $('#insights-page').hidden = v.insight === undefined
  const { insight: _, ...overview } = v
  const base = statsParams(overview)
  toOverview.href = `${location.pathname}?${base}`
  base.set('page', 'insights')
  base.set('insight', lastInsight.name)
  for (const [k, val] of lastInsight.params) base.append(k, val)
  toInsights.href = `${location.pathname}?${base}`
  const [on, off] = v.insight ? [toInsights, toOverview] : [toOverview, toInsights]
  on.setAttribute('aria-current', 'page')
  off.removeAttribute('aria-current')
}

for (const [link, insightsPage] of [
  [toOverview, false],
  [toInsights, true],
] as const)
  link.addEventListener('click', (e) => {
    if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0 || !view) return
    e.preventDefault()
    const { insight: _, ...overview } = view
    show(insightsPage ? { ...overview, insight: lastInsight } : overview, 'push')
  })

/** A value clicked in a web panel becomes one more filter of the view. */
function addSegment(segment: string): void {
  if (!view || view.segments.includes(segment)) return
  show({ ...view, segments: [...view.segments, segment] }, 'push')
}

function askForKey(): void {
  keyForm.hidden = false
  $('#key-note').textContent = storedKey()
    ? 'The key in use was refused. Enter another with read access.'
    : 'This service needs an API key with read access.'
  if (document.activeElement !== keyForm.key) keyForm.key.focus()
}

function syncKeyButton(): void {
  forgetKey.hidden = storedKey() === null
}

rangeForm.addEventListener('submit', (e) => {
  e.preventDefault()
  const from = rangeForm.from.value as string
  const to = rangeForm.to.value as string
  if (!from || !to) return
  const [start, end] = from <= to ? [from, to] : [to, from] // either order means the same days
  show(
    {
      from: start,
      to: end,
      segments: view?.segments ?? [],
      project: view?.project ?? project ?? null,
      ...(view?.insight ? { insight: view.insight } : {}),
    },
    'push',
  )
})

for (const button of rangeForm.querySelectorAll<HTMLButtonElement>('button[data-days]')) {
  button.addEventListener('click', async () => {
    const shown = view?.project ?? project ?? null
    let end: string
    try {
      end = await lastDay(shown)
    } catch (err) {
      for (const p of Object.values(panels)) p.fail(err)
      return
    }
    show(
      {
        from: addDays(end, 1 - Number(button.dataset.days)),
        to: end,
        segments: view?.segments ?? [],
        project: shown,
        ...(view?.insight ? { insight: view.insight } : {}),
      },
      'push',
    )
  })
}

keyForm.addEventListener('submit', (e) => {
  e.preventDefault()
  const key = (keyForm.key.value as string).trim()
  if (!key) return
  storeKey(key)
  keyForm.reset()
  keyForm.hidden = true
  syncKeyButton()
  keyChanged()
})

forgetKey.addEventListener('click', () => {
  storeKey(null)
  syncKeyButton()
  keyChanged()
})

/** Another key may read other projects (a project's key, its own only): everything is asked anew. */
function keyChanged(): void {
  projects = undefined
  project = undefined
  lastDays.clear()
  void openFromUrl()
}

filterForm.addEventListener('submit', (e) => {
  e.preventDefault()
  const segment = (filterForm.segment.value as string).trim()
  if (!segment || !view || view.segments.includes(segment)) return
  filterForm.reset()
  show({ ...view, segments: [...view.segments, segment] }, 'push')
})

window.addEventListener('popstate', () => void openFromUrl())

followWidth($('#dau .chart'))
syncKeyButton()
void segmentsSupported().then(
  (yes) => (filterBar.hidden = !yes),
  () => (filterBar.hidden = true),
)
void openFromUrl()
