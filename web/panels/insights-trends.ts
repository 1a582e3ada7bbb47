import { getJson } from '../api.ts'
import { h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import type { View } from '../view.ts'
import {
  EVENTS_LIST,
  type Insight,
  input,
  insightParams,
  labelled,
  PALETTE,
  seconds,
  select,
  unlessDefault,
} from './insight.ts'
import { lineChart } from './insight-chart.ts'

interface Point {
  start: string
  value: number | null
  median?: number | null
  p90?: number | null
}

interface Trends {
  interval: string
  series: Array<{ event_type: string | null; measure: string; points: Point[]; previous?: Point[] }>
}

const MAX_SERIES = 10
const MEASURES = ['count', 'unique_users', 'per_user', 'sum:properties.', 'avg:properties.']

type SeriesSpec = Record<string, unknown> & { event_type?: string; measure?: string }

/** The link's series: repeated series= JSON objects, or the one-series event_type= and measure=. */
function givenSeries(params: URLSearchParams): SeriesSpec[] {
  const list = params.getAll('series').map((text) => {
    try {
      const v = JSON.parse(text) as unknown
      return v && typeof v === 'object' && !Array.isArray(v) ? (v as SeriesSpec) : {}
    } catch {
      return {}
    }
  })
  if (list.length > 0) return list
  const one: SeriesSpec = {}
  const type = params.get('event_type')
  const measure = params.get('measure')
  if (type) one.event_type = type
  if (measure) one.measure = measure
  return [one]
}

const showValue = (v: number | null | undefined) =>
  v == null ? '–' : Number.isInteger(v) ? new Intl.NumberFormat('en-US').format(v) : v.toFixed(2)

export const trendsInsight: Insight = {
  name: 'trends',
  title: 'Trends',
  keys: ['series', 'event_type', 'measure', 'interval', 'compare'],
  controls(params) {
    const list = h('ol', { class: 'series' })
    const add = h('button', { type: 'button' }, '+ Series')
    const rows: Array<{
      li: HTMLElement
      type: HTMLInputElement
      measure: HTMLInputElement
      extra: SeriesSpec
    }> = []
    const sync = () => {
      rows.forEach((r, i) => {
        r.li.querySelector('button')!.disabled = rows.length <= 1
        r.li.querySelector('button')!.setAttribute('aria-label', `remove series ${i + 1}`)
      })
      add.disabled = rows.length >= MAX_SERIES
    }
    const addRow = (spec: SeriesSpec) => {
      const { event_type, measure, ...extra } = spec
      const type = input('event_type', event_type ?? '', {
        list: EVENTS_LIST,
        placeholder: 'all events',
      })
      const m = input('measure', measure ?? 'count', { list: 'insight-measures', size: '14' })
      const remove = h('button', { type: 'button', class: 'chip-remove' }, '×')
      const li = h('li', {}, labelled('Event', type), labelled('Measure', m), remove)
      const row = { li, type, measure: m, extra }
      remove.addEventListener('click', () => {
        rows.splice(rows.indexOf(row), 1)
        li.remove()
        sync()
      })
      rows.push(row)
      list.append(li)
      sync()
      return type
    }
    for (const s of givenSeries(params)) addRow(s)
    add.addEventListener('click', () => addRow({}).focus())
    const measures = h(
      'datalist',
      { id: 'insight-measures' },
      ...MEASURES.map((m) => h('option', { value: m })),
    )
    const interval = select('interval', params.get('interval') ?? 'day', [
      'hour',
      'day',
      'week',
      'month',
    ])
    const compare = input('compare', 'previous', { type: 'checkbox' })
    compare.checked = params.get('compare') === 'previous'
    return {
      fields: [
        h('div', { class: 'step-fields' }, list, add, measures),
        labelled('Interval', interval),
        labelled('Compare with the period before', compare),
      ],
      read: () => [
        ...rows.map((r): [string, string] => {
          const spec: SeriesSpec = { ...r.extra }
          if (r.type.value.trim()) spec.event_type = r.type.value.trim()
          if (r.measure.value.trim()) spec.measure = r.measure.value.trim()
          return ['series', JSON.stringify(spec)]
        }),
        ...unlessDefault('interval', interval.value, 'day'),
        ...(compare.checked ? [['compare', 'previous'] as [string, string]] : []),
      ],
    }
  },
  async load(
    panel: Panel,
    view: View,
    params: URLSearchParams,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const t = await getJson<Trends>('/stats/trends', insightParams(view, params), signal)
    const points = t.series[0]?.points ?? []
    const any = t.series.some((s) => [...s.points, ...(s.previous ?? [])].some((p) => p.value))
    if (!any) return 'empty'
    const label = (s: Trends['series'][number]) => `${s.event_type ?? 'all events'} · ${s.measure}`
    const compared = t.series.some((s) => s.previous)
    const chart = h('div', { class: 'chart' })
    const thead = h(
      'tr',
      {},
      h(
        'th',
        { scope: 'col' },
        t.interval === 'hour'
          ? 'Hour (UTC)'
          : `${t.interval[0]!.toUpperCase()}${t.interval.slice(1)} (UTC)`,
      ),
      ...t.series.flatMap((s) => [
        h('th', { scope: 'col', class: 'num' }, label(s)),
        ...(s.previous ? [h('th', { scope: 'col', class: 'num' }, 'previous')] : []),
      ]),
    )
    const tbody = points.map((p, i) =>
      h(
        'tr',
        { 'data-start': p.start },
        h('td', {}, p.start),
        ...t.series.flatMap((s, k) => [
          h(
            'td',
            { class: 'num', 'data-series': k, 'data-value': String(s.points[i]?.value ?? '') },
            showValue(s.points[i]?.value),
          ),
          ...(s.previous
            ? [
                h(
                  'td',
                  {
                    class: 'num previous',
                    'data-series': k,
                    'data-value': String(s.previous[i]?.value ?? ''),
                  },
                  showValue(s.previous[i]?.value),
                ),
              ]
            : []),
        ]),
      ),
    )
    panel.body.replaceChildren(
      ...(compared
        ? [
            h(
              'p',
              { class: 'note' },
              'Dashed: the same stretch of time just before the range, point by point.',
            ),
          ]
        : []),
      chart,
      h(
        'details',
        {},
        h('summary', {}, 'Numbers'),
        h(
          'div',
          { class: 'scroll' },
          h('table', { class: 'data trends' }, h('thead', {}, thead), h('tbody', {}, ...tbody)),
        ),
      ),
    )
    panel.body.hidden = false // so the chart can measure its width
    lineChart(
      panel.body,
      chart,
      points.map((p) => seconds(p.start)),
      t.series.flatMap((s, k) => [
        {
          label: label(s),
          stroke: PALETTE[k % PALETTE.length]!,
          values: s.points.map((p) => p.value),
        },
        ...(s.previous
          ? [
              {
                label: `${label(s)}, previous`,
                stroke: PALETTE[k % PALETTE.length]!,
                values: s.previous.map((p) => p.value),
                dashed: true,
              },
            ]
          : []),
      ]),
      t.interval === 'hour' ? 'Hour (UTC)' : 'Start',
    )
    return 'ready'
  },
}
