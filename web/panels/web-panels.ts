import { Panel } from '../panel.ts'
import type { View } from '../view.ts'
import { breakdownChoice, loadWebList, type WebList } from './web-lists.ts'
import { followOverviewWidth, loadWebOverview } from './web-overview.ts'

const pages = (kind: 'top' | 'entry' | 'exit'): WebList => ({
  path: '/stats/web/pages',
  params: { kind },
  property: 'path',
})

/**
 * The web-analytics panels (index.html, "Web analytics"): they load with the
 * same view (range, filters, project) as the others, and a click on a value
 * adds a filter to that view.
 */
export class WebPanels {
  readonly panels: Record<string, Panel>
  private view: View | undefined
  private signal: AbortSignal | undefined
  private readonly lists: Array<[Panel, () => WebList]>

  constructor(
    onError: (err: unknown) => void,
    private readonly addSegment: (segment: string) => void,
  ) {
    const panel = (id: string) => new Panel(document.getElementById(id)!, onError)
    const overview = panel('web-overview')
    const sources = panel('web-sources')
    const tech = panel('web-tech')
    const lists: Array<[Panel, () => WebList]> = [
      [panel('web-top-pages'), () => pages('top')],
      [panel('web-entry-pages'), () => pages('entry')],
      [panel('web-exit-pages'), () => pages('exit')],
    ]
    for (const p of [sources, tech]) {
      const choice = breakdownChoice(p, () => this.loadList(p, choice))
      lists.push([p, choice])
    }
    this.lists = lists
    this.panels = {
      webOverview: overview,
      ...Object.fromEntries(lists.map(([p]) => [p.root.id, p])),
    }
    followOverviewWidth(overview.root.querySelector('.chart')!)
  }

  load(view: View, signal: AbortSignal): void {
    this.view = view
    this.signal = signal
    const overview = this.panels.webOverview!
    void overview.load(view, () => loadWebOverview(overview, view, signal))
    for (const [p, list] of this.lists) this.loadList(p, list)
  }

  private loadList(panel: Panel, list: () => WebList): void {
    const { view, signal } = this
    if (!view || !signal) return
    void panel.load(view, () => loadWebList(panel, list(), view, signal, this.addSegment))
  }
}
