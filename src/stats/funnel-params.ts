import type { FieldError } from '../errors.ts'
import { failed } from './params.ts'
import { parseField, parseSegment, type Segment, type SegmentField } from './segment.ts'

// What /stats/funnel's schema cannot check: the window's grammar and bound,
// the step numbers inside step_filter= and exclude=, and which options go
// together. Each error names its parameter, as params.ts does.

export type FunnelOrder = 'ordered' | 'strict' | 'unordered'

export interface FunnelStep {
  eventType: string
  /** the step's own filters, on top of segment= */
  filters: Segment[]
}

export interface Exclusion {
  eventType: string
  /** the pairs (i, i+1) it applies to, by i; every pair when the parameter names none */
  after: number | undefined
}

export interface FunnelSpec {
  steps: FunnelStep[]
  windowUs: number
  order: FunnelOrder
  exclusions: Exclusion[]
  /** a property of one step's event, or the person's current trait (the same at every step) */
  breakdown:
    | { text: string; field: SegmentField & { kind: 'property' | 'trait' }; step: number }
    | undefined
  breakdownLimit: number
}

export const MIN_STEPS = 2
export const MAX_STEPS = 10
export const DEFAULT_WINDOW = '14d'
const MAX_WINDOW_US = 90 * 86_400_000_000
const UNIT_US = { m: 60_000_000, h: 3_600_000_000, d: 86_400_000_000 } as const
const WINDOW = /^([1-9]\d{0,6})(m|h|d)$/
const STEP_PREFIX = /^([1-9]\d?):([\s\S]*)$/

/** `30m`, `12h`, `7d` … up to 90 days, in microseconds; or why not. */
export function parseWindow(text: string): number | string {
  const m = WINDOW.exec(text)
  if (!m) return 'a number and a unit: m (minutes), h (hours) or d (days), e.g. 30m, 12h, 14d'
  const us = Number(m[1]) * UNIT_US[m[2] as keyof typeof UNIT_US]
  return us > MAX_WINDOW_US ? 'at most 90d' : us
}

function stepNumber(
  text: string,
  steps: number,
  name: string,
  errors: FieldError[],
): { step: number; rest: string } | undefined {
  const m = STEP_PREFIX.exec(text)
  const step = m ? Number(m[1]) : 0
  if (!m || step > steps) {
    errors.push({
      field: name,
      message: `${JSON.stringify(text)}: expected <step>:…, the step a number from 1 to ${steps}`,
    })
    return undefined
  }
  return { step, rest: m[2]! }
}

export interface FunnelQueryText {
  steps: string[]
  window?: string
  order?: FunnelOrder
  step_filter?: string[]
  exclude?: string[]
  breakdown?: string
  breakdown_step?: number
  breakdown_limit?: number
}

export const DEFAULT_BREAKDOWN_LIMIT = 10

/** The funnel the parameters describe; errors are added for every bad one. */
export function checkFunnel(query: FunnelQueryText, errors: FieldError[]): FunnelSpec {
  const steps: FunnelStep[] = failed(errors, 'steps')
    ? []
    : query.steps.map((eventType) => ({ eventType, filters: [] }))
  const count = steps.length || MAX_STEPS
  let windowUs = 0
  if (!failed(errors, 'window')) {
    const parsed = parseWindow(query.window ?? DEFAULT_WINDOW)
    if (typeof parsed === 'string') errors.push({ field: 'window', message: parsed })
    else windowUs = parsed
  }
  const order = query.order ?? 'ordered'
  if (!failed(errors, 'step_filter'))
    for (const text of query.step_filter ?? []) {
      const at = stepNumber(text, count, 'step_filter', errors)
      if (!at) continue
      const segment = parseSegment(at.rest)
      if (typeof segment === 'string')
        errors.push({ field: 'step_filter', message: `${JSON.stringify(text)}: ${segment}` })
      else steps[at.step - 1]?.filters.push(segment)
    }
  const exclusions: Exclusion[] = []
  if (!failed(errors, 'exclude'))
    for (const text of query.exclude ?? []) {
      if (!text.includes(':')) {
        exclusions.push({ eventType: text, after: undefined })
        continue
      }
      const at = stepNumber(text, count - 1, 'exclude', errors)
      if (at) exclusions.push({ eventType: at.rest, after: at.step })
    }
  if (order === 'unordered' && !failed(errors, 'order')) {
    if (exclusions.length > 0)
      errors.push({ field: 'exclude', message: 'needs an order: ordered or strict' })
    const types = new Set(steps.map((s) => s.eventType))
    if (types.size < steps.length)
      errors.push({
        field: 'steps',
        message: 'with order=unordered each step must be a different event type',
      })
  }
  let breakdown: FunnelSpec['breakdown']
  if (query.breakdown !== undefined && !failed(errors, 'breakdown')) {
    const field =
      query.breakdown.startsWith('properties.') || query.breakdown.startsWith('user.')
        ? parseField(query.breakdown)
        : 'must be properties.<path> or user.<trait>'
    if (typeof field === 'string') errors.push({ field: 'breakdown', message: field })
    else if (field.kind === 'property' || field.kind === 'trait')
      breakdown = { text: query.breakdown, field, step: query.breakdown_step ?? 1 }
  }
  const step = query.breakdown_step
  if (step !== undefined && !failed(errors, 'breakdown_step')) {
    if (query.breakdown === undefined)
      errors.push({ field: 'breakdown_step', message: 'needs breakdown' })
    else if (step > count)
      errors.push({ field: 'breakdown_step', message: `must be a step, 1 to ${count}` })
    else if (breakdown?.field.kind === 'trait' && step !== 1)
      errors.push({
        field: 'breakdown_step',
        message: "user.<trait> is the person's current trait, the same at every step",
      })
    else if (order === 'unordered' && step !== 1)
      errors.push({ field: 'breakdown_step', message: 'with order=unordered only step 1' })
  }
  return {
    steps,
    windowUs,
    order,
    exclusions,
    breakdown,
    breakdownLimit: query.breakdown_limit ?? DEFAULT_BREAKDOWN_LIMIT,
  }
}
