import type { Outcome, Panel } from '../panel.ts'
import { statsParams, type View } from '../view.ts'

/**
 * One chart of the insights page. Its parameters are named as its /stats
 * endpoint names them, so the page's URL reads like the API request behind it.
 */
export interface Insight {
  name: string
  title: string
  /** the parameters of the URL that belong to it; any other is dropped */
  keys: readonly string[]
  /** the form fields for its parameters, filled from them, and how to read them back */
  controls(params: URLSearchParams): Controls
  load(panel: Panel, view: View, params: URLSearchParams, signal: AbortSignal): Promise<Outcome>
}

export interface Controls {
  fields: Node[]
  read(): Array<[string, string]>
}

/** The view's range, filters and project, and the insight's own parameters. */
export function insightParams(view: View, params: URLSearchParams): URLSearchParams {
  const q = statsParams(view)
  for (const [k, v] of params) q.append(k, v)
  return q
}

/** The datalist of the range's top event types, which every event-type field offers. */
export const EVENTS_LIST = 'insight-events'

let fieldIds = 0
/** A labelled control; the id ties label and control for assistive technology. */
export function labelled(text: string, control: HTMLElement): HTMLLabelElement {
  const label = document.createElement('label')
  control.id ||= `insight-field-${++fieldIds}`
  label.htmlFor = control.id
  label.append(text, ' ', control)
  return label
}

export function input(
  name: string,
  value: string,
  attrs: Record<string, string> = {},
): HTMLInputElement {
  const el = document.createElement('input')
  el.name = name
  el.value = value
  el.spellcheck = false
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v)
  return el
}

export function select(name: string, value: string, options: readonly string[]): HTMLSelectElement {
  const el = document.createElement('select')
  el.name = name
  for (const o of options) el.add(new Option(o, o, false, o === value))
  return el
}

/** `[name, value]` when the value is set and not the endpoint's default (so links stay short). */
export function unlessDefault(
  name: string,
  value: string,
  fallback: string,
): Array<[string, string]> {
  const v = value.trim()
  return v === '' || v === fallback ? [] : [[name, v]]
}

/** An event type (any, by default) and an interval (day by default): the controls stickiness and lifecycle share. */
export function eventAndInterval(
  params: URLSearchParams,
  intervals: readonly string[],
  intervalLabel: string,
): Controls {
  const type = input('event_type', params.get('event_type') ?? '', {
    list: EVENTS_LIST,
    placeholder: 'all events',
  })
  const interval = select('interval', params.get('interval') ?? 'day', intervals)
  return {
    fields: [labelled('Event', type), labelled(intervalLabel, interval)],
    read: () => [
      ...unlessDefault('event_type', type.value, ''),
      ...unlessDefault('interval', interval.value, 'day'),
    ],
  }
}

/** The x values uPlot wants (seconds) from a day or an instant. */
export const seconds = (start: string) =>
  Date.parse(start.length === 10 ? `${start}T00:00:00Z` : start) / 1000

export const PALETTE = [
  '#2563eb',
  '#16a34a',
  '#9333ea',
  '#ea580c',
  '#0891b2',
  '#db2777',
  '#ca8a04',
  '#4f46e5',
  '#64748b',
]

const SVG = 'http://www.w3.org/2000/svg'
/** The SVG twin of h(): the lifecycle bars and the paths Sankey are drawn with it. */
export function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
  ...children: Array<Node | string>
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v))
  el.append(...children)
  return el
}
