import { getJson } from '../api.ts'
import { formatInt, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import type { View } from '../view.ts'
import { type Insight, insightParams, PALETTE, seconds } from './insight.ts'
import { lineChart } from './insight-chart.ts'

interface Row {
  date: string
  dau: number
  wau: number
  mau: number
}

const MEASURES = ['dau', 'wau', 'mau'] as const
const LABELS = { dau: 'Daily', wau: 'Weekly (7 days)', mau: 'Monthly (30 days)' }

export const activeUsersInsight: Insight = {
  name: 'active-users',
  title: 'Active users',
  keys: [],
  controls: () => ({ fields: [], read: () => [] }),
  async load(
    panel: Panel,
    view: View,
    params: URLSearchParams,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const rows = await getJson<Row[]>('/stats/active-users', insightParams(view, params), signal)
    if (rows.every((r) => r.mau === 0)) return 'empty'
    const chart = h('div', { class: 'chart' })
    panel.body.replaceChildren(
      h(
        'p',
        { class: 'note' },
        'Rolling: each day counts the distinct users of the 1, 7 and 30 days ending on it, those before the range included.',
      ),
      chart,
      h(
        'details',
        {},
        h('summary', {}, 'Numbers'),
        h(
          'table',
          { class: 'data active-users' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Day (UTC)'),
              ...MEASURES.map((m) => h('th', { scope: 'col', class: 'num' }, m.toUpperCase())),
            ),
          ),
          h(
            'tbody',
            {},
            ...rows.map((r) =>
              h(
                'tr',
                { 'data-date': r.date },
                h('td', {}, r.date),
                ...MEASURES.map((m) =>
                  h('td', { class: `num ${m}`, 'data-value': r[m] }, formatInt(r[m])),
                ),
              ),
            ),
          ),
        ),
      ),
    )
    panel.body.hidden = false // so the chart can measure its width
    lineChart(
      panel.body,
      chart,
      rows.map((r) => seconds(r.date)),
      MEASURES.map((m, i) => ({
        label: LABELS[m],
        stroke: PALETTE[i]!,
        values: rows.map((r) => r[m]),
      })),
      'Day',
    )
    return 'ready'
  },
}
