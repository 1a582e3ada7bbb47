import { getJson } from '../api.ts'
import { h } from '../format.ts'

interface OpenApiDoc {
  paths?: Record<string, { get?: { parameters?: Array<{ name: string }> } }>
}

/**
 * Whether the stats endpoints take `segment=` filters: the filter bar only
 * appears when the service's own OpenAPI document says so.
 */
export async function segmentsSupported(): Promise<boolean> {
  const doc = await getJson<OpenApiDoc>('/openapi.json')
  return (doc.paths?.['/stats/dau']?.get?.parameters ?? []).some((p) => p.name === 'segment')
}

/** The active filters as removable chips; `onChange` gets the new list. */
export function renderFilters(
  list: HTMLElement,
  segments: string[],
  onChange: (segments: string[]) => void,
): void {
  list.replaceChildren(
    ...segments.map((s, i) => {
      const remove = h(
        'button',
        { type: 'button', class: 'chip-remove', 'aria-label': `remove filter ${s}` },
        '×',
      )
      remove.addEventListener('click', () => onChange(segments.filter((_, j) => j !== i)))
      return h('li', { class: 'chip', 'data-segment': s }, h('code', {}, s), remove)
    }),
  )
}
