import uPlot from 'uplot'
import { getJson } from '../api.ts'
import { formatInt, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import { spanDays, statsParams, type View } from '../view.ts'

interface WebOverview {
  interval: 'day' | 'hour'
  totals: {
    visitors: number
    page_views: number
    visits: number
    bounces: number
    bounce_rate: number
    visit_duration: number
    views_per_visit: number
  }
  intervals: Array<{ start: string; visitors: number; page_views: number; visits: number }>
}

// Up to three days are shown by the hour, longer ranges by the day.
const HOURLY_UP_TO_DAYS = 3

let chart: uPlot | undefined

const seconds = (s: number) =>
  s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`

/** Visitors, page views and visits over time, and the range's totals as tiles. */
export async function loadWebOverview(
  panel: Panel,
  view: View,
  signal: AbortSignal,
): Promise<Outcome> {
  const params = statsParams(view)
  const interval = spanDays(view.from, view.to) <= HOURLY_UP_TO_DAYS ? 'hour' : 'day'
  params.set('interval', interval)
  const o = await getJson<WebOverview>('/stats/web/overview', params, signal)
  chart?.destroy()
  chart = undefined
  if (o.totals.visits === 0) return 'empty'
  const t = o.totals
  const tile = (field: string, label: string, value: number, text: string) =>
    h(
      'div',
      { class: 'tile', 'data-field': field, 'data-value': value },
      h('dt', {}, label),
      h('dd', {}, text),
    )
  panel.body
    .querySelector('.tiles')!
    .replaceChildren(
      tile('visitors', 'Visitors', t.visitors, formatInt(t.visitors)),
      tile('visits', 'Visits', t.visits, formatInt(t.visits)),
      tile('page_views', 'Page views', t.page_views, formatInt(t.page_views)),
      tile('views_per_visit', 'Views per visit', t.views_per_visit, t.views_per_visit.toFixed(2)),
      tile('bounce_rate', 'Bounce rate', t.bounce_rate, `${t.bounce_rate.toFixed(1)}%`),
      tile('visit_duration', 'Visit duration', t.visit_duration, seconds(t.visit_duration)),
    )

  panel.body.hidden = false // so the chart can measure its width
  const plot = panel.body.querySelector<HTMLElement>('.chart')!
  const x = o.intervals.map(
    (r) => Date.parse(r.start.length === 10 ? `${r.start}T00:00:00Z` : r.start) / 1000,
  )
  const line = (label: string, stroke: string) => ({
    label,
    stroke,
    width: 2,
    points: { show: o.intervals.length <= 62 },
    value: (_u: uPlot, v: number | null) => (v == null ? '–' : formatInt(v)),
  })
  chart = new uPlot(
    {
      width: plot.clientWidth || 600,
      height: 200,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      series: [
        { label: interval === 'day' ? 'Day' : 'Hour (UTC)' },
        line('Visitors', '#2563eb'),
        line('Page views', '#16a34a'),
        line('Visits', '#9333ea'),
      ],
      axes: [{}, { values: (_u, ticks) => ticks.map((v) => formatInt(v)), size: 56 }],
    },
    [
      x,
      o.intervals.map((r) => r.visitors),
      o.intervals.map((r) => r.page_views),
      o.intervals.map((r) => r.visits),
    ],
    plot,
  )
  panel.body
    .querySelector('table.data thead')!
    .replaceChildren(
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, interval === 'day' ? 'Day (UTC)' : 'Hour (UTC)'),
        h('th', { scope: 'col', class: 'num' }, 'Visitors'),
        h('th', { scope: 'col', class: 'num' }, 'Page views'),
        h('th', { scope: 'col', class: 'num' }, 'Visits'),
      ),
    )
  panel.body
    .querySelector('table.data tbody')!
    .replaceChildren(
      ...o.intervals.map((r) =>
        h(
          'tr',
          { 'data-start': r.start },
          h('td', {}, r.start),
          h('td', { class: 'num' }, formatInt(r.visitors)),
          h('td', { class: 'num' }, formatInt(r.page_views)),
          h('td', { class: 'num' }, formatInt(r.visits)),
        ),
      ),
    )
  return 'ready'
}

/** Keeps the chart as wide as its panel. */
export function followOverviewWidth(container: HTMLElement): void {
  new ResizeObserver(() => {
    if (chart && container.clientWidth > 0)
      chart.setSize({ width: container.clientWidth, height: 200 })
  }).observe(container)
}
