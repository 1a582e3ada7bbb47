import uPlot from 'uplot'
import { getJson } from '../api.ts'
import { formatDay, formatInt, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import { statsParams, type View } from '../view.ts'

export interface DauRow {
  date: string
  unique_users: number
}

let chart: uPlot | undefined

/** The range's daily active users; other panels ask it whether the range has any event at all. */
export function fetchDau(view: View, signal: AbortSignal): Promise<DauRow[]> {
  return getJson<DauRow[]>('/stats/dau', statsParams(view), signal)
}

/** Daily active users: a line chart, a one-line summary, and the numbers in a table. */
export async function loadDau(panel: Panel, rowsLoading: Promise<DauRow[]>): Promise<Outcome> {
  const rows = await rowsLoading
  chart?.destroy()
  chart = undefined
  if (rows.every((r) => r.unique_users === 0)) return 'empty'

  panel.body.hidden = false // so the chart can measure its width
  const plot = panel.body.querySelector<HTMLElement>('.chart')!
  const x = rows.map((r) => Date.parse(`${r.date}T00:00:00Z`) / 1000)
  const y = rows.map((r) => r.unique_users)
  chart = new uPlot(
    {
      width: plot.clientWidth || 600,
      height: plot.clientWidth < 500 ? 180 : 240,
      // Days are UTC calendar days: label them so, whatever the browser's zone.
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { y: { range: (_u, _min, max) => [0, Math.max(1, max) * 1.1] } },
      series: [
        {
          label: 'Day',
          value: (_u, v) => (v == null ? '–' : new Date(v * 1000).toISOString().slice(0, 10)),
        },
        {
          label: 'Active users',
          stroke: '#2563eb',
          width: 2,
          fill: 'rgba(37, 99, 235, 0.08)',
          points: { show: rows.length <= 62 },
          value: (_u, v) => (v == null ? '–' : formatInt(v)),
        },
      ],
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => formatInt(t)), size: 56 }],
      legend: { live: true },
    },
    [x, y],
    plot,
  )

  const peak = rows.reduce((best, r) => (r.unique_users > best.unique_users ? r : best))
  const mean = y.reduce((a, b) => a + b, 0) / y.length
  panel.body
    .querySelector('.summary')!
    .replaceChildren(
      `Average ${formatInt(mean)} a day · peak ${formatInt(peak.unique_users)} on ${formatDay(peak.date)}`,
    )
  panel.body
    .querySelector('table.data tbody')!
    .replaceChildren(
      ...rows.map((r) =>
        h(
          'tr',
          { 'data-date': r.date, 'data-users': r.unique_users },
          h('td', {}, r.date),
          h('td', { class: 'num' }, formatInt(r.unique_users)),
        ),
      ),
    )
  return 'ready'
}

/** Keeps the chart as wide as its panel (phones, rotated screens, resized windows). */
export function followWidth(container: HTMLElement): void {
  new ResizeObserver(() => {
    if (chart && container.clientWidth > 0)
      chart.setSize({
        width: container.clientWidth,
        height: container.clientWidth < 500 ? 180 : 240,
      })
  }).observe(container)
}
