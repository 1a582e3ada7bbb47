import { getJson } from '../api.ts'
import { formatInt, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import type { View } from '../view.ts'
import {
  EVENTS_LIST,
  type Insight,
  input,
  insightParams,
  labelled,
  PALETTE,
  select,
  svg,
  unlessDefault,
} from './insight.ts'

// The paths Sankey is drawn by hand in SVG: columns of rectangles and one
// curve per transition are a hundred lines, where a chart library (d3-sankey
// and its d3 dependencies, or a general charting kit) would add far more code
// to the page than it saves, for a layout that needs no iteration.

export interface PathNode {
  step: number
  name: string
  users: number
}
export interface PathTransition {
  step: number
  from: string
  to: string
  users: number
  events: number
}
export interface Paths {
  nodes: PathNode[]
  transitions: PathTransition[]
}

const W = 960
const NODE_W = 12
const GAP = 10
const MAX_LABEL = 26

interface Placed extends PathNode {
  x: number
  y: number
  height: number
  outAt: number
  inAt: number
  /** the users of its transitions out and in: distinct per transition, so they may add up to more than its users */
  out: number
  in: number
}

/**
 * The Sankey: one column per step, its nodes by users (largest first), each
 * as tall as its users; a transition joins a node of one step to a node of the
 * next (`step` is its `from` node's; `to` is at step + 1), as thick as its users.
 */
export function sankey(paths: Paths): SVGSVGElement {
  const key = (step: number, name: string) => `${step}\u0000${name}`
  const nodes = new Map<string, Placed>()
  const steps = [...new Set(paths.nodes.map((n) => n.step))].sort((a, b) => a - b)
  const columns = steps.map((s) =>
    paths.nodes
      .filter((n) => n.step === s)
      .sort((a, b) => b.users - a.users || a.name.localeCompare(b.name)),
  )
  const tallest = Math.max(1, ...columns.map((c) => c.reduce((a, n) => a + n.users, 0)))
  const most = Math.max(1, ...columns.map((c) => c.length))
  const H = Math.max(220, Math.min(560, most * 44))
  const scale = (H - 20 - GAP * (most - 1)) / tallest
  const colStep = steps.length > 1 ? (W - 2 * 150 - NODE_W) / (steps.length - 1) : 0
  columns.forEach((col, i) => {
    let y = 10
    for (const n of col) {
      const height = Math.max(2, n.users * scale)
      nodes.set(key(n.step, n.name), {
        ...n,
        x: 150 + i * colStep,
        y,
        height,
        outAt: y,
        inAt: y,
        out: 0,
        in: 0,
      })
      y += height + GAP
    }
  })
  const ends = (t: PathTransition) => [
    nodes.get(key(t.step, t.from)),
    nodes.get(key(t.step + 1, t.to)),
  ]

  for (const t of paths.transitions) {
    const [a, b] = ends(t)
    if (a) a.out += t.users
    if (b) b.in += t.users
  }
  // A band is as thick as its users, narrowed where a node's bands would not fit beside it.
  const fit = (n: Placed, total: number) => (total * scale > n.height ? n.height / total : scale)

  const root = svg('svg', {
    viewBox: `0 0 ${W} ${H}`,
    class: 'sankey',
    role: 'img',
    'aria-label': 'paths between steps; the numbers are in the table below',
  })
  const links = svg('g', { class: 'links', fill: 'none' })
  // Bands leave a node in the order of the nodes they reach, so they do not cross at their ends.
  const ordered = [...paths.transitions].sort((a, b) => {
    const [, ta] = ends(a)
    const [, tb] = ends(b)
    return (ta?.y ?? 0) - (tb?.y ?? 0)
  })
  // One colour per name, whichever column it is in, so a page reads the same at every step.
  const colors = new Map<string, string>()
  for (const n of columns.flat())
    if (!colors.has(n.name)) colors.set(n.name, PALETTE[colors.size % PALETTE.length]!)
  for (const t of ordered) {
    const [a, b] = ends(t)
    if (!a || !b) continue // a transition without its nodes cannot be placed
    const width = t.users * Math.min(fit(a, a.out), fit(b, b.in))
    const y0 = a.outAt + width / 2
    const y1 = b.inAt + width / 2
    a.outAt += width
    b.inAt += width
    const x0 = a.x + NODE_W
    const x1 = b.x
    const mid = (x0 + x1) / 2
    links.append(
      svg(
        'path',
        {
          d: `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}`,
          stroke: colors.get(a.name) ?? '#2563eb',
          'stroke-width': Math.max(1, width),
          'stroke-opacity': 0.3,
          'data-from': t.from,
          'data-to': t.to,
          'data-users': t.users,
        },
        svg(
          'title',
          {},
          `${t.from} → ${t.to}: ${formatInt(t.users)} users, ${formatInt(t.events)} times`,
        ),
      ),
    )
  }
  root.append(links)
  const last = steps.at(-1)
  for (const n of nodes.values()) {
    const name = n.name.length > MAX_LABEL ? `${n.name.slice(0, MAX_LABEL - 1)}…` : n.name
    const right = n.step !== last
    root.append(
      svg(
        'g',
        { class: 'node', 'data-step': n.step, 'data-name': n.name, 'data-users': n.users },
        svg('rect', {
          x: n.x,
          y: n.y,
          width: NODE_W,
          height: n.height,
          rx: 2,
          fill: colors.get(n.name)!,
        }),
        svg(
          'text',
          {
            x: right ? n.x - 6 : n.x + NODE_W + 6,
            y: n.y + n.height / 2 + 4,
            'text-anchor': right ? 'end' : 'start',
          },
          `${name} · ${formatInt(n.users)}`,
        ),
        svg('title', {}, `step ${n.step}: ${n.name}, ${formatInt(n.users)} users`),
      ),
    )
  }
  return root
}

export const pathsInsight: Insight = {
  name: 'paths',
  title: 'Paths',
  keys: ['start', 'end', 'steps', 'limit'],
  controls(params) {
    const anchor = params.has('end') ? 'end' : 'start'
    const [kind, ...rest] = (params.get(anchor) ?? 'event:').split(':')
    const side = select('side', anchor === 'end' ? 'ending at' : 'starting at', [
      'starting at',
      'ending at',
    ])
    const type = select('kind', kind === 'page' ? 'page' : 'event', ['event', 'page'])
    const value = input('value', rest.join(':'), {
      placeholder: 'signup or /pricing',
      list: EVENTS_LIST,
    })
    const steps = input('steps', params.get('steps') ?? '', {
      type: 'number',
      min: '2',
      max: '10',
      placeholder: '5',
    })
    const limit = input('limit', params.get('limit') ?? '', {
      type: 'number',
      min: '1',
      max: '100',
      placeholder: '50',
    })
    return {
      fields: [
        labelled('Paths', side),
        labelled('Of', type),
        labelled('Named', value),
        labelled('Steps', steps),
        labelled('Top transitions', limit),
      ],
      read: () => [
        ...(value.value.trim()
          ? [
              [
                side.value === 'ending at' ? 'end' : 'start',
                `${type.value}:${value.value.trim()}`,
              ] as [string, string],
            ]
          : []),
        ...unlessDefault('steps', steps.value, ''),
        ...unlessDefault('limit', limit.value, ''),
      ],
    }
  },
  async load(
    panel: Panel,
    view: View,
    params: URLSearchParams,
    signal: AbortSignal,
  ): Promise<Outcome> {
    if (!params.has('start') && !params.has('end'))
      return { empty: 'Choose the event or page the paths start or end at, then Apply.' }
    const p = await getJson<Paths>('/stats/paths', insightParams(view, params), signal)
    if (p.transitions.length === 0) return { empty: 'No paths from there in this range.' }
    panel.body.replaceChildren(
      h('div', { class: 'scroll' }, sankey(p)),
      h(
        'details',
        {},
        h('summary', {}, 'Numbers'),
        h(
          'table',
          { class: 'data paths' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ...['Step', 'From', 'To', 'Users', 'Times'].map((c, i) =>
                h('th', { scope: 'col', class: i >= 3 ? 'num' : undefined }, c),
              ),
            ),
          ),
          h(
            'tbody',
            {},
            ...p.transitions.map((t) =>
              h(
                'tr',
                {
                  'data-step': t.step,
                  'data-from': t.from,
                  'data-to': t.to,
                  'data-users': t.users,
                  'data-events': t.events,
                },
                h('td', {}, String(t.step)),
                h('td', {}, t.from),
                h('td', {}, t.to),
                h('td', { class: 'num' }, formatInt(t.users)),
                h('td', { class: 'num' }, formatInt(t.events)),
              ),
            ),
          ),
        ),
      ),
    )
    return 'ready'
  },
}
