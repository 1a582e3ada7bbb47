import { getJson } from '../api.ts'
import { formatInt, formatRate, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import type { View } from '../view.ts'
import {
  EVENTS_LIST,
  type Insight,
  input,
  insightParams,
  labelled,
  select,
  unlessDefault,
} from './insight.ts'

interface StepRow {
  step: number
  event_type: string
  users: number
  conversion_from_first: number
  conversion_from_previous: number
  drop_off: number
  median_seconds: number | null
  mean_seconds: number | null
}

interface Funnel {
  order: string
  window_seconds: number
  steps: StepRow[]
  breakdown?: {
    by: string
    step: number
    values: Array<{ value: unknown; steps: StepRow[] }>
    other: { values: number; steps: StepRow[] }
    not_set: { steps: StepRow[] }
  }
}

const ORDER_TEXT: Record<string, string> = {
  ordered: 'steps in order, other events between allowed',
  strict: 'steps in order, nothing between',
  unordered: 'steps in any order',
}

const MIN_STEPS = 2
const MAX_STEPS = 10

/** 90061 s → "1 d 1 h"; a time between steps reads best in its two largest units. */
export function formatSeconds(s: number | null): string {
  if (s === null) return '–'
  if (s < 60) return `${Math.round(s)} s`
  const units: Array<[string, number]> = [
    ['d', 86_400],
    ['h', 3_600],
    ['min', 60],
  ]
  const parts: string[] = []
  let rest = Math.round(s)
  for (const [name, size] of units) {
    if (rest >= size && parts.length < 2) {
      parts.push(`${Math.floor(rest / size)} ${name}`)
      rest %= size
    } else if (parts.length > 0) break
  }
  return parts.join(' ')
}

/** The steps as an ordered list of event-type fields that can grow to ten and shrink to two. */
function stepFields(initial: string[]): { node: HTMLElement; values: () => string[] } {
  const list = h('ol', { class: 'steps' })
  const add = h('button', { type: 'button', class: 'add-step' }, '+ Step')
  const sync = () => {
    const items = [...list.children] as HTMLElement[]
    items.forEach((li, i) => {
      li.querySelector('label')!.firstChild!.textContent = `Step ${i + 1}`
      li.querySelector<HTMLButtonElement>('button')!.disabled = items.length <= MIN_STEPS
      li.querySelector('button')!.setAttribute('aria-label', `remove step ${i + 1}`)
    })
    add.disabled = items.length >= MAX_STEPS
  }
  const addStep = (value: string) => {
    const field = input('steps', value, { list: EVENTS_LIST, placeholder: 'event type' })
    const remove = h('button', { type: 'button', class: 'chip-remove' }, '×')
    const li = h('li', {}, labelled('Step', field), remove)
    remove.addEventListener('click', () => {
      li.remove()
      sync()
    })
    list.append(li)
    sync()
    return field
  }
  for (const v of initial) addStep(v)
  add.addEventListener('click', () => addStep('').focus())
  return {
    node: h('div', { class: 'step-fields' }, list, add),
    values: () =>
      [...list.querySelectorAll<HTMLInputElement>('input')]
        .map((i) => i.value.trim())
        .filter((v) => v !== ''),
  }
}

/** One row of bars: the step, its users as a bar against step 1, and the rates beside it. */
function stepRow(s: StepRow, first: number): HTMLElement {
  const width = (n: number) => `${first === 0 ? 0 : (70 * n) / first}%` // room for the label
  const bar = h('span', { class: 'bar' })
  bar.style.width = width(Math.max(s.users, first / 100))
  // The users lost since the step before, as a pale stretch after the bar.
  const lost = h('span', { class: 'bar lost', title: `${formatInt(s.drop_off)} dropped off` })
  lost.style.width = width(s.step === 1 ? 0 : s.drop_off)
  return h(
    'tr',
    {
      'data-step': s.step,
      'data-users': s.users,
      'data-conversion': s.conversion_from_first,
      'data-conversion-previous': s.conversion_from_previous,
      'data-drop-off': s.drop_off,
    },
    h('th', { scope: 'row', class: 'name' }, `${s.step}. ${s.event_type}`),
    h(
      'td',
      { class: 'bar-cell' },
      h(
        'div',
        { class: 'bar-wrap' },
        bar,
        lost,
        h('span', { class: 'bar-label num users' }, formatInt(s.users)),
      ),
    ),
    h('td', { class: 'num conversion' }, formatRate(s.conversion_from_first)),
    h(
      'td',
      { class: 'num conversion-previous' },
      s.step === 1 ? '–' : formatRate(s.conversion_from_previous),
    ),
    h('td', { class: 'num drop-off' }, s.step === 1 ? '–' : formatInt(s.drop_off)),
    h('td', { class: 'num median' }, s.step === 1 ? '–' : formatSeconds(s.median_seconds)),
  )
}

function breakdownTable(f: Funnel): HTMLElement {
  const b = f.breakdown!
  const rows: Array<{ label: string; key: string; steps: StepRow[] }> = [
    ...b.values.map((v) => ({
      label: String(v.value),
      key: JSON.stringify(v.value),
      steps: v.steps,
    })),
    { label: `other (${formatInt(b.other.values)} values)`, key: 'other', steps: b.other.steps },
    { label: 'not set', key: 'not_set', steps: b.not_set.steps },
  ]
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      { class: 'list breakdown' },
      h(
        'caption',
        {},
        `By ${b.by} at step ${b.step}: users at each step, and the share of the value's step 1`,
      ),
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          h('th', { scope: 'col' }, 'Value'),
          ...f.steps.map((s) =>
            h('th', { scope: 'col', class: 'num' }, `${s.step}. ${s.event_type}`),
          ),
        ),
      ),
      h(
        'tbody',
        {},
        ...rows.map((r) =>
          h(
            'tr',
            { 'data-value': r.key },
            h('th', { scope: 'row', class: 'name' }, r.label),
            ...r.steps.map((s) =>
              h(
                'td',
                { class: 'num', 'data-step': s.step, 'data-users': s.users },
                formatInt(s.users),
                h('span', { class: 'muted' }, ` ${formatRate(s.conversion_from_first)}`),
              ),
            ),
          ),
        ),
      ),
    ),
  )
}

export const funnelInsight: Insight = {
  name: 'funnel',
  title: 'Funnel',
  keys: [
    'steps',
    'window',
    'order',
    'breakdown',
    'breakdown_step',
    'breakdown_limit',
    'step_filter',
    'exclude',
  ],
  controls(params) {
    const given = params.getAll('steps')
    const steps = stepFields([...given, ...Array(Math.max(0, MIN_STEPS - given.length)).fill('')])
    const window = input('window', params.get('window') ?? '', {
      placeholder: '14d',
      pattern: '\\d+[mhd]',
      size: '5',
      title: '30m, 12h, 7d … up to 90d',
    })
    const order = select('order', params.get('order') ?? 'ordered', [
      'ordered',
      'strict',
      'unordered',
    ])
    const breakdown = input('breakdown', params.get('breakdown') ?? '', {
      placeholder: 'properties.country',
      title: 'properties.<path>, or user.<trait> where the service takes it',
    })
    // Kept as the link gave them: the builder does not edit them, but a shared link keeps them.
    const kept = [...params].filter(([k]) =>
      ['breakdown_step', 'breakdown_limit', 'step_filter', 'exclude'].includes(k),
    )
    return {
      fields: [
        steps.node,
        labelled('Window', window),
        labelled('Order', order),
        labelled('Breakdown', breakdown),
      ],
      read: () => [
        ...steps.values().map((s): [string, string] => ['steps', s]),
        ...unlessDefault('window', window.value, '14d'),
        ...unlessDefault('order', order.value, 'ordered'),
        ...unlessDefault('breakdown', breakdown.value, ''),
        ...kept,
      ],
    }
  },
  async load(
    panel: Panel,
    view: View,
    params: URLSearchParams,
    signal: AbortSignal,
  ): Promise<Outcome> {
    if (params.getAll('steps').length < MIN_STEPS)
      return { empty: `Choose ${MIN_STEPS} to ${MAX_STEPS} steps above, then Apply.` }
    const f = await getJson<Funnel>('/stats/funnel', insightParams(view, params), signal)
    const first = f.steps[0]!.users
    if (first === 0) return { empty: 'No user did the first step in this range.' }
    const last = f.steps.at(-1)!
    panel.body.replaceChildren(
      h(
        'p',
        { class: 'summary' },
        `${formatInt(first)} users entered; ${formatInt(last.users)} (${formatRate(last.conversion_from_first)}) reached the last step within ${formatSeconds(f.window_seconds)} (${ORDER_TEXT[f.order] ?? f.order}).`,
      ),
      h(
        'table',
        { class: 'bars funnel' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', { scope: 'col' }, 'Step'),
            h('th', { scope: 'col' }, 'Users'),
            h('th', { scope: 'col', class: 'num' }, 'Of step 1'),
            h('th', { scope: 'col', class: 'num conversion-previous' }, 'Of previous'),
            h('th', { scope: 'col', class: 'num' }, 'Dropped'),
            h('th', { scope: 'col', class: 'num median' }, 'Median time'),
          ),
        ),
        h('tbody', {}, ...f.steps.map((s) => stepRow(s, first))),
      ),
      ...(f.breakdown ? [breakdownTable(f)] : []),
    )
    return 'ready'
  },
}
