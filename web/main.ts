import 'uplot/dist/uPlot.min.css'
import './style.css'
import { ApiError, getJson, storedKey, storeKey } from './api.ts'
import { Panel } from './panel.ts'
import { fetchDau, followWidth, loadDau } from './panels/dau.ts'
import { renderFilters, segmentsSupported } from './panels/filters.ts'
import { LivePanel } from './panels/live.ts'
import { loadRetention } from './panels/retention.ts'
import { loadTopEvents } from './panels/top-events.ts'
import { addDays, readUrl, today, type View, writeUrl } from './view.ts'

const $ = <T extends HTMLElement>(selector: string): T => document.querySelector<T>(selector)!

const rangeForm = $<HTMLFormElement>('#range-form')
const keyForm = $<HTMLFormElement>('#key-form')
const forgetKey = $<HTMLButtonElement>('#forget-key')
const filterBar = $<HTMLElement>('#filters')
const filterForm = $<HTMLFormElement>('#filter-form')

// A 401 from any panel means the service wants a key: ask for one.
const onPanelError = (err: unknown) => {
  if (err instanceof ApiError && err.status === 401) askForKey()
}
const panels = {
  dau: new Panel($('#dau'), onPanelError),
  top: new Panel($('#top-events'), onPanelError),
  retention: new Panel($('#retention'), onPanelError),
}
const live = new LivePanel(new Panel($('#live'), onPanelError))

let view: View | undefined
let lastDataDay: string | null | undefined
let inFlight: AbortController | undefined

/** The last day holding events, asked once; presets and the default range end there. */
async function lastDay(): Promise<string> {
  if (lastDataDay === undefined)
    lastDataDay = (await getJson<{ last_day: string | null }>('/stats/range')).last_day
  return lastDataDay ?? today()
}

/** Works out the view from the URL (the last 30 days with data when it names none) and loads it. */
async function openFromUrl(): Promise<void> {
  const url = readUrl()
  let to = url.to
  let from = url.from
  if (!to || !from) {
    for (const p of Object.values(panels)) p.loading()
    try {
      to ??= await lastDay()
    } catch (err) {
      for (const p of Object.values(panels)) p.fail(err)
      return
    }
    from ??= addDays(to, -29)
  }
  show({ from, to, segments: url.segments }, 'replace')
}

/** Shows a view: the URL and the controls follow it, and every panel reloads. */
function show(next: View, history: 'push' | 'replace' | 'none'): void {
  view = next
  if (history !== 'none') writeUrl(view, history)
  rangeForm.from.value = view.from
  rangeForm.to.value = view.to
  renderFilters($('#filter-list'), view.segments, (segments) => show({ ...next, segments }, 'push'))

  inFlight?.abort()
  inFlight = new AbortController()
  const { signal } = inFlight
  const v = view
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
  show(
    // biome-ignore lint/complexity/useMathMinMax: the days are YYYY-MM-DD strings
    { from: from <= to ? from : to, to: from <= to ? to : from, segments: view?.segments ?? [] },
    'push',
  )
})

for (const button of rangeForm.querySelectorAll<HTMLButtonElement>('button[data-days]')) {
  button.addEventListener('click', async () => {
    let end: string
    try {
      end = await lastDay()
    } catch (err) {
      for (const p of Object.values(panels)) p.fail(err)
      return
    }
    show(
      {
        from: addDays(end, 1 - Number(button.dataset.days)),
        to: end,
        segments: view?.segments ?? [],
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
  lastDataDay = undefined
  if (view) show(view, 'none')
  else void openFromUrl()
  live.pollNow()
})

forgetKey.addEventListener('click', () => {
  storeKey(null)
  syncKeyButton()
  if (view) show(view, 'none')
  live.pollNow()
})

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
live.pollNow()
