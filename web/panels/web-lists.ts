import { getJson } from '../api.ts'
import { formatInt, formatRate, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import { statsParams, type View } from '../view.ts'

// The web lists (top, entry and exit pages; sources; technology): one table
// each, every value a button that adds `segment=properties.<property>:eq:<value>`
// (eq spelled out, so a value such as "in:x" stays a value).

interface Row {
  value: string
  visitors: number
  page_views: number
  visits?: number
  bounce_rate?: number
}

const LIMIT = 10

export interface WebList {
  /** the endpoint and its fixed parameters */
  path: string
  params: Record<string, string>
  /** the property a value filters on */
  property: string
}

/** The segment a click on `value` adds. */
export const segmentFor = (property: string, value: string) => `properties.${property}:eq:${value}`

export async function loadWebList(
  panel: Panel,
  list: WebList,
  view: View,
  signal: AbortSignal,
  addSegment: (segment: string) => void,
): Promise<Outcome> {
  const params = statsParams(view)
  for (const [k, v] of Object.entries(list.params)) params.set(k, v)
  params.set('limit', String(LIMIT))
  const { rows } = await getJson<{ rows: Row[] }>(list.path, params, signal)
  if (rows.length === 0) return 'empty'
  const visits = rows[0]!.visits !== undefined
  const head = panel.body.querySelector('thead')!
  head.replaceChildren(
    h(
      'tr',
      {},
      h('th', { scope: 'col' }, head.dataset.label ?? 'Value'),
      h('th', { scope: 'col', class: 'num' }, 'Visitors'),
      ...(visits
        ? [
            h('th', { scope: 'col', class: 'num' }, 'Visits'),
            h('th', { scope: 'col', class: 'num' }, 'Bounce'),
          ]
        : [h('th', { scope: 'col', class: 'num' }, 'Views')]),
    ),
  )
  panel.body.querySelector('tbody')!.replaceChildren(
    ...rows.map((r) => {
      const segment = segmentFor(list.property, r.value)
      const button = h(
        'button',
        { type: 'button', class: 'link value', title: `filter: ${segment}` },
        r.value === '' ? '(none)' : r.value,
      )
      button.addEventListener('click', () => addSegment(segment))
      return h(
        'tr',
        { 'data-value': r.value },
        h('th', { scope: 'row', class: 'name' }, button),
        h('td', { class: 'num visitors' }, formatInt(r.visitors)),
        ...(visits
          ? [
              h('td', { class: 'num visits' }, formatInt(r.visits!)),
              h('td', { class: 'num bounce' }, formatRate(r.bounce_rate!)),
            ]
          : [h('td', { class: 'num views' }, formatInt(r.page_views))]),
      )
    }),
  )
  return 'ready'
}

/**
 * A panel's choice buttons (data-by, one aria-pressed): which breakdown it
 * shows; a press reloads it. Buttons, not a <select>: every choice is one
 * click, as in the other panels' values.
 */
export function breakdownChoice(panel: Panel, onChange: () => void): () => WebList {
  const buttons = [...panel.root.querySelectorAll<HTMLButtonElement>('button[data-by]')]
  for (const b of buttons)
    b.addEventListener('click', () => {
      for (const other of buttons) other.setAttribute('aria-pressed', String(other === b))
      onChange()
    })
  return () => {
    const by = buttons.find((b) => b.getAttribute('aria-pressed') === 'true')!.dataset.by!
    return { path: '/stats/web/breakdown', params: { by }, property: by }
  }
}
