import { getJson } from '../api.ts'
import { formatInt, formatRate, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import type { View } from '../view.ts'
import { eventAndInterval, type Insight, insightParams } from './insight.ts'

interface Stickiness {
  interval: string
  intervals: number
  counts: Array<{ intervals: number; users: number }>
}

export const stickinessInsight: Insight = {
  name: 'stickiness',
  title: 'Stickiness',
  keys: ['event_type', 'interval'],
  controls: (params) => eventAndInterval(params, ['day', 'week'], 'Counted in'),
  async load(
    panel: Panel,
    view: View,
    params: URLSearchParams,
    signal: AbortSignal,
  ): Promise<Outcome> {
    const s = await getJson<Stickiness>('/stats/stickiness', insightParams(view, params), signal)
    const total = s.counts.reduce((a, c) => a + c.users, 0)
    if (total === 0) return 'empty'
    const max = Math.max(...s.counts.map((c) => c.users))
    const unit = (n: number) => `${n} ${s.interval}${n === 1 ? '' : 's'}`
    // The rows past the most anyone did it are all zero: one line says so instead.
    const most = Math.max(...s.counts.filter((c) => c.users > 0).map((c) => c.intervals))
    const shown = s.counts.filter((c) => c.intervals <= most)
    panel.body.replaceChildren(
      h(
        'p',
        { class: 'note' },
        `${formatInt(total)} users, by how many of the range's ${formatInt(s.intervals)} ${s.interval}s they did it on` +
          (most < s.intervals ? `; none on more than ${unit(most)}.` : '.'),
      ),
      h(
        'table',
        { class: 'bars stickiness' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, `Active ${s.interval}s`),
            h('th', { scope: 'col' }, 'Users'),
            h('th', { scope: 'col', class: 'num' }, 'Share'),
          ),
        ),
        h(
          'tbody',
          {},
          ...shown.map((c) => {
            const bar = h('span', { class: 'bar' })
            bar.style.width = `${c.users === 0 ? 0 : Math.max(1, (70 * c.users) / max)}%`
            return h(
              'tr',
              { 'data-intervals': c.intervals, 'data-users': c.users },
              h('th', { scope: 'row', class: 'name' }, unit(c.intervals)),
              h(
                'td',
                { class: 'bar-cell' },
                h(
                  'div',
                  { class: 'bar-wrap' },
                  bar,
                  h('span', { class: 'bar-label num users' }, formatInt(c.users)),
                ),
              ),
              h('td', { class: 'num' }, formatRate((100 * c.users) / total)),
            )
          }),
        ),
      ),
    )
    return 'ready'
  },
}
