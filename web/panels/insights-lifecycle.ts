import { getJson } from '../api.ts'
import { formatDay, formatInt, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import type { View } from '../view.ts'
import { eventAndInterval, type Insight, insightParams, svg } from './insight.ts'

interface Row {
  start: string
  new: number
  returning: number
  resurrecting: number
  dormant: number
}

const KINDS = [
  { key: 'new', label: 'New', color: '#16a34a' },
  { key: 'returning', label: 'Returning', color: '#2563eb' },
  { key: 'resurrecting', label: 'Resurrecting', color: '#f59e0b' },
  { key: 'dormant', label: 'Dormant', color: '#dc2626' },
] as const

/**
 * Stacked bars drawn by hand in SVG: new, returning and resurrecting above
 * the zero line, dormant below it. uPlot draws lines well but has no stacked
 * bars that cross zero, and a few rectangles need no library.
 */
function stackedBars(rows: Row[]): SVGSVGElement {
  const W = 900
  const H = 260
  const pad = { left: 48, right: 8, top: 8, bottom: 24 }
  const up = Math.max(1, ...rows.map((r) => r.new + r.returning + r.resurrecting))
  const down = Math.max(0, ...rows.map((r) => -r.dormant))
  const scale = (H - pad.top - pad.bottom) / (up + down)
  const zero = pad.top + up * scale
  const step = (W - pad.left - pad.right) / rows.length
  const barW = Math.max(2, step * 0.7)
  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'lifecycle-chart',
    role: 'img',
    'aria-label': 'new, returning, resurrecting and dormant users per interval',
  })
  root.append(
    svg('line', { x1: pad.left, x2: W - pad.right, y1: zero, y2: zero, stroke: '#9ca3af' }),
    svg(
      'text',
      { x: pad.left - 6, y: pad.top + 10, 'text-anchor': 'end', class: 'axis' },
      formatInt(up),
    ),
    svg('text', { x: pad.left - 6, y: zero + 4, 'text-anchor': 'end', class: 'axis' }, '0'),
  )
  if (down > 0)
    root.append(
      svg(
        'text',
        { x: pad.left - 6, y: H - pad.bottom, 'text-anchor': 'end', class: 'axis' },
        formatInt(-down),
      ),
    )
  const labelEvery = Math.ceil(rows.length / 12)
  rows.forEach((r, i) => {
    const x = pad.left + i * step + (step - barW) / 2
    let top = zero
    for (const k of KINDS.slice(0, 3)) {
      const hgt = r[k.key] * scale
      if (hgt > 0) {
        top -= hgt
        root.append(
          svg(
            'rect',
            { x, y: top, width: barW, height: hgt, fill: k.color },
            svg('title', {}, `${r.start}: ${formatInt(r[k.key])} ${k.label.toLowerCase()}`),
          ),
        )
      }
    }
    if (r.dormant < 0)
      root.append(
        svg(
          'rect',
          { x, y: zero, width: barW, height: -r.dormant * scale, fill: KINDS[3].color },
          svg('title', {}, `${r.start}: ${formatInt(-r.dormant)} dormant`),
        ),
      )
    if (i % labelEvery === 0)
      root.append(
        svg(
          'text',
          { x: x + barW / 2, y: H - 6, 'text-anchor': 'middle', class: 'axis' },
          formatDay(r.start),
        ),
      )
  })
  return root
}

export const lifecycleInsight: Insight = {
  name: 'lifecycle',
  title: 'Lifecycle',
  keys: ['event_type', 'interval'],
  controls: (params) => eventAndInterval(params, ['day', 'week', 'month'], 'Interval'),
  async load(
    panel: Panel,
    view: View,
    params: URLSearchParams,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const rows = await getJson<Row[]>('/stats/lifecycle', insightParams(view, params), signal)
    if (rows.every((r) => KINDS.every((k) => r[k.key] === 0))) return 'empty'
    panel.body.replaceChildren(
      h(
        'ul',
        { class: 'legend' },
        ...KINDS.map((k) => {
          const swatch = h('span', { class: 'swatch' })
          swatch.style.backgroundColor = k.color
          return h('li', {}, swatch, k.label)
        }),
      ),
      stackedBars(rows),
      h(
        'details',
        {},
        h('summary', {}, 'Numbers'),
        h(
          'table',
          { class: 'data lifecycle' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'Start (UTC)'),
              ...KINDS.map((k) => h('th', { scope: 'col', class: 'num' }, k.label)),
            ),
          ),
          h(
            'tbody',
            {},
            ...rows.map((r) =>
              h(
                'tr',
                { 'data-start': r.start },
                h('td', {}, r.start),
                ...KINDS.map((k) =>
                  h('td', { class: `num ${k.key}`, 'data-value': r[k.key] }, formatInt(r[k.key])),
                ),
              ),
            ),
          ),
        ),
      ),
    )
    return 'ready'
  },
}
