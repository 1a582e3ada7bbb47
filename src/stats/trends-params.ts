import type { FieldError } from '../errors.ts'
import { failed } from './params.ts'
import { parseField, parseSegments, type Segment } from './segment.ts'

// /stats/trends takes one series as event_type= and measure=, or several as
// repeated series= JSON objects; what the schema cannot check is here.

export type Interval = 'hour' | 'day' | 'week' | 'month'
export type Measure =
  | { kind: 'count' | 'unique_users' | 'per_user' }
  | { kind: 'sum' | 'avg' | 'min' | 'max'; path: string[] }

export interface Series {
  eventType: string | undefined
  measureText: string
  measure: Measure
  /** the series' own filters and the query's segment= */
  segments: Segment[]
}

export const MAX_SERIES = 10
const MEASURE = /^(sum|avg|min|max):(properties\..+)$/
export const MEASURE_HELP =
  'count, unique_users, per_user, or sum|avg|min|max:properties.<path> (a numeric property)'

export function parseMeasure(text: string): Measure | string {
  if (text === 'count' || text === 'unique_users' || text === 'per_user') return { kind: text }
  const m = MEASURE.exec(text)
  if (!m) return `must be ${MEASURE_HELP}`
  const field = parseField(m[2]!)
  if (typeof field === 'string') return field
  if (field.kind !== 'property') return `must be ${MEASURE_HELP}`
  return { kind: m[1] as 'sum', path: field.path }
}

function checkEventType(value: unknown): string | undefined {
  return typeof value === 'string' && value.length >= 1 && value.length <= 128
    ? undefined
    : 'must be text of 1 to 128 characters'
}

/** One series from a series= parameter, or the errors naming it (`series[i].field`). */
function parseSeriesJson(
  text: string,
  index: number,
  common: Segment[],
  errors: FieldError[],
): Series | undefined {
  const field = `series[${index}]`
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    errors.push({ field, message: 'must be a JSON object' })
    return undefined
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    errors.push({ field, message: 'must be a JSON object' })
    return undefined
  }
  const o = value as Record<string, unknown>
  const before = errors.length
  for (const key of Object.keys(o))
    if (!['event_type', 'measure', 'segment'].includes(key))
      errors.push({ field: `${field}.${key}`, message: 'unknown member' })
  if (o.event_type !== undefined) {
    const why = checkEventType(o.event_type)
    if (why) errors.push({ field: `${field}.event_type`, message: why })
  }
  const measureText = o.measure === undefined ? 'count' : o.measure
  const measure =
    typeof measureText === 'string' ? parseMeasure(measureText) : `must be ${MEASURE_HELP}`
  if (typeof measure === 'string') errors.push({ field: `${field}.measure`, message: measure })
  let own: Segment[] = []
  if (o.segment === undefined || Array.isArray(o.segment))
    own = parseSegments(`${field}.segment`, o.segment, errors)
  else errors.push({ field: `${field}.segment`, message: 'must be an array of filters' })
  if (errors.length > before || typeof measure === 'string') return undefined
  return {
    eventType: o.event_type as string | undefined,
    measureText: measureText as string,
    measure,
    segments: [...common, ...own],
  }
}

export function checkSeries(
  query: { series?: string[]; event_type?: string; measure?: string },
  common: Segment[],
  errors: FieldError[],
): Series[] {
  if (query.series !== undefined) {
    if (query.event_type !== undefined)
      errors.push({ field: 'event_type', message: 'give it inside each series= instead' })
    if (query.measure !== undefined)
      errors.push({ field: 'measure', message: 'give it inside each series= instead' })
    if (failed(errors, 'series')) return []
    return query.series.flatMap((text, i) => parseSeriesJson(text, i, common, errors) ?? [])
  }
  const measureText = query.measure ?? 'count'
  const measure = parseMeasure(measureText)
  if (typeof measure === 'string') {
    if (!failed(errors, 'measure')) errors.push({ field: 'measure', message: measure })
    return []
  }
  return [{ eventType: query.event_type, measureText, measure, segments: common }]
}
