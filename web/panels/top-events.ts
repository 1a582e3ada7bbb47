import { getJson } from '../api.ts'
import { formatInt, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import { statsParams, type View } from '../view.ts'

interface TopEventRow {
  event_type: string
  count: number
  unique_users: number
}

const LIMIT = 10

/** Top event types as horizontal bars (an HTML table: long names stay readable on a phone). */
export async function loadTopEvents(
  panel: Panel,
  view: View,
  signal: AbortSignal,
): Promise<Outcome> {
  const params = statsParams(view)
  params.set('limit', String(LIMIT))
  const rows = await getJson<TopEventRow[]>('/stats/top-events', params, signal)
  if (rows.length === 0) return 'empty'
  const max = rows[0]!.count
  panel.body.querySelector('table.bars tbody')!.replaceChildren(
    ...rows.map((r) => {
      const bar = h('span', { class: 'bar' })
      // Set through CSSOM, which a strict Content-Security-Policy allows (a style attribute it would not).
      bar.style.width = `${Math.max(1, (70 * r.count) / max)}%` // room for the label
      return h(
        'tr',
        {
          'data-event-type': r.event_type,
          'data-count': r.count,
          'data-unique-users': r.unique_users,
        },
        h('th', { scope: 'row', class: 'name' }, r.event_type),
        h(
          'td',
          { class: 'bar-cell' },
          h(
            'div',
            { class: 'bar-wrap' },
            bar,
            h('span', { class: 'bar-label num' }, formatInt(r.count)),
          ),
        ),
        h('td', { class: 'num' }, formatInt(r.unique_users)),
      )
    }),
  )
  return 'ready'
}
