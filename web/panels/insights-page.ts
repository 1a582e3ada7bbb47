import { getJson } from '../api.ts'
import { h } from '../format.ts'
import { Panel } from '../panel.ts'
import { type InsightQuery, statsParams, type View } from '../view.ts'
import { EVENTS_LIST, type Insight } from './insight.ts'
import { activeUsersInsight } from './insights-active-users.ts'
import { funnelInsight } from './insights-funnel.ts'
import { lifecycleInsight } from './insights-lifecycle.ts'
import { pathsInsight } from './insights-paths.ts'
import { stickinessInsight } from './insights-stickiness.ts'
import { trendsInsight } from './insights-trends.ts'

export const INSIGHTS: readonly Insight[] = [
  funnelInsight,
  trendsInsight,
  activeUsersInsight,
  stickinessInsight,
  lifecycleInsight,
  pathsInsight,
]
const DEFAULT = INSIGHTS[0]!

/** The insight a link names, with only the parameters that belong to it. */
export function resolveInsight(q: InsightQuery): { insight: Insight; query: InsightQuery } {
  const insight = INSIGHTS.find((i) => i.name === q.name) ?? DEFAULT
  const params = q.params.filter(([k]) => insight.keys.includes(k))
  return { insight, query: { name: insight.name, params } }
}

/**
 * The insights page (index.html, #insights-page): one insight at a time, chosen
 * by its tab; its controls are built from the view's parameters, and Apply
 * hands the new parameters to `onChange`, which puts them in the URL. Each
 * insight remembers its last query while the page is open, so going back to
 * its tab shows it again.
 */
export class InsightsPage {
  readonly panels: Record<string, Panel>
  private readonly root = document.getElementById('insights-page')!
  private readonly events = document.getElementById(EVENTS_LIST) as HTMLDataListElement
  private readonly last = new Map<string, Array<[string, string]>>()
  private eventsFor = ''

  constructor(
    onError: (err: unknown) => void,
    private readonly onChange: (q: InsightQuery) => void,
  ) {
    this.panels = Object.fromEntries(
      INSIGHTS.map((i) => [
        `insight-${i.name}`,
        new Panel(document.getElementById(`insight-${i.name}`)!, onError),
      ]),
    )
    for (const tab of this.root.querySelectorAll<HTMLAnchorElement>('nav.tabs a[data-insight]'))
      tab.addEventListener('click', (e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey || e.button !== 0) return // a new tab or window: the link does it
        e.preventDefault()
        const name = tab.dataset.insight!
        this.onChange({ name, params: this.last.get(name) ?? [] })
      })
  }

  /** Where a tab's link leads from this view. */
  private linkTo(view: View, name: string): string {
    const q = statsParams(view)
    q.set('page', 'insights')
    q.set('insight', name)
    for (const [k, v] of (name === view.insight?.name
      ? view.insight.params
      : this.last.get(name)) ?? [])
      q.append(k, v)
    return `${location.pathname}?${q}`
  }

  show(view: View & { insight: InsightQuery }, signal: AbortSignal): void {
    const { insight, query } = resolveInsight(view.insight)
    this.last.set(insight.name, query.params)
    for (const tab of this.root.querySelectorAll<HTMLAnchorElement>('nav.tabs a[data-insight]')) {
      tab.href = this.linkTo(view, tab.dataset.insight!)
      if (tab.dataset.insight === insight.name) tab.setAttribute('aria-current', 'page')
      else tab.removeAttribute('aria-current')
    }
    for (const i of INSIGHTS) document.getElementById(`insight-${i.name}`)!.hidden = i !== insight
    void this.fillEvents(view, signal)

    const panel = this.panels[`insight-${insight.name}`]!
    const params = new URLSearchParams(query.params)
    const form = panel.root.querySelector<HTMLFormElement>('form.insight-controls')!
    const controls = insight.controls(params)
    form.hidden = controls.fields.length === 0
    form.replaceChildren(...controls.fields, h('button', { type: 'submit' }, 'Apply'))
    form.onsubmit = (e) => {
      e.preventDefault()
      this.onChange({ name: insight.name, params: controls.read() })
    }
    void panel.load(view, () => insight.load(panel, view, params, signal))
  }

  /** The range's top event types, offered by every event-type field (asked once per view). */
  private async fillEvents(view: View, signal: AbortSignal): Promise<void> {
    const q = statsParams(view)
    q.set('limit', '50')
    if (q.toString() === this.eventsFor) return
    this.eventsFor = q.toString()
    try {
      const rows = await getJson<Array<{ event_type: string }>>('/stats/top-events', q, signal)
      this.events.replaceChildren(...rows.map((r) => h('option', { value: r.event_type })))
    } catch {
      this.eventsFor = '' // the fields still take any text; the insight's panel shows any error
    }
  }
}
