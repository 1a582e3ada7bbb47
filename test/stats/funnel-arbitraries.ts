import fc from 'fast-check'
import type { RefFunnel } from './funnel-reference.ts'
import { type Filter, matchesAll, renderFilter } from './reference-segment.ts'

// Random funnel queries over events with properties p and q, both as the
// query string /stats/funnel takes and as the reference's description.

export interface FunnelCase {
  from: number
  days: number
  steps: string[]
  window: string
  order: 'ordered' | 'strict' | 'unordered'
  stepFilters: Array<{ step: number; filter: Filter }>
  exclusions: Array<{ type: string; after?: number }>
  breakdown?: { path: string; step: number; limit: number }
  segment: Filter[]
}

const WINDOWS: Record<string, number> = {
  '1m': 60e6,
  '30m': 1800e6,
  '1h': 3600e6,
  '12h': 43_200e6,
  '1d': 86_400e6,
  '3d': 259_200e6,
}

const propertyFilter: fc.Arbitrary<Filter> = fc.record({
  field: fc.constantFrom(['p'], ['q']),
  op: fc.constantFrom('eq' as const, 'ne' as const, 'exists' as const),
  values: fc.constantFrom(['u'], ['v'], ['1'], ['m'], ['true']).map((v) => [...v]),
})
const anyFilter: fc.Arbitrary<Filter> = fc.oneof(
  propertyFilter,
  fc.record({
    field: fc.constant('user_id' as const),
    op: fc.constant('ne' as const),
    values: fc.constantFrom(['a'], ['b']).map((v) => [...v]),
  }),
)

export function funnelQueryArb(types: string[]): fc.Arbitrary<FunnelCase> {
  return fc
    .record({
      from: fc.integer({ min: 0, max: 3 }),
      days: fc.integer({ min: 1, max: 3 }),
      order: fc.constantFrom('ordered' as const, 'strict' as const, 'unordered' as const),
      steps: fc.array(fc.constantFrom(...types), { minLength: 2, maxLength: 4 }),
      window: fc.constantFrom(...Object.keys(WINDOWS)),
      stepFilters: fc.array(
        fc.record({ step: fc.integer({ min: 1, max: 4 }), filter: propertyFilter }),
        { maxLength: 2 },
      ),
      exclusions: fc.array(
        fc.record({
          type: fc.constantFrom(...types),
          after: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
        }),
        { maxLength: 2 },
      ),
      breakdown: fc.option(
        fc.record({
          path: fc.constantFrom('p', 'q'),
          step: fc.integer({ min: 1, max: 4 }),
          limit: fc.integer({ min: 1, max: 3 }),
        }),
        { nil: undefined },
      ),
      segment: fc.array(anyFilter, { maxLength: 1 }),
    })
    .map((c) => {
      const unordered = c.order === 'unordered'
      // unordered funnels take distinct event types and no exclusions
      const steps = unordered ? [...new Set(c.steps)] : c.steps
      const out: FunnelCase = {
        ...c,
        steps: steps.length >= 2 ? steps : [types[0]!, types[1]!],
        stepFilters: [],
        exclusions: unordered ? [] : c.exclusions,
        breakdown: undefined,
      }
      const K = out.steps.length
      out.stepFilters = c.stepFilters.filter((f) => f.step <= K)
      out.exclusions = out.exclusions.filter((x) => x.after === undefined || x.after < K)
      if (c.breakdown)
        out.breakdown = { ...c.breakdown, step: unordered ? 1 : Math.min(c.breakdown.step, K) }
      return out
    })
}

export function renderFunnel(c: FunnelCase): string {
  const parts = [
    ...c.steps.map((s) => `steps=${s}`),
    `window=${c.window}`,
    `order=${c.order}`,
    ...c.stepFilters.map(
      (f) => `step_filter=${encodeURIComponent(`${f.step}:${renderFilter(f.filter)}`)}`,
    ),
    ...c.exclusions.map(
      (x) => `exclude=${x.after === undefined ? x.type : `${x.after}:${x.type}`}`,
    ),
  ]
  if (c.breakdown)
    parts.push(
      `breakdown=properties.${c.breakdown.path}`,
      `breakdown_step=${c.breakdown.step}`,
      `breakdown_limit=${c.breakdown.limit}`,
    )
  return parts.join('&')
}

export function toRefFunnel(c: FunnelCase): RefFunnel {
  return {
    steps: c.steps.map((type, i) => ({
      type,
      keep: matchesAll(c.stepFilters.filter((f) => f.step === i + 1).map((f) => f.filter)),
    })),
    windowUs: WINDOWS[c.window]!,
    order: c.order,
    exclusions: c.exclusions,
    ...(c.breakdown
      ? {
          breakdown: { path: [c.breakdown.path], step: c.breakdown.step, limit: c.breakdown.limit },
        }
      : {}),
  }
}
