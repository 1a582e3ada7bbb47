import { addDays, type ReferenceEvent } from '../stats/reference.ts'
import type { StatsQuery } from './references.ts'

// Two projects' events that differ in every figure (days, types, properties,
// how many), with users in common and the same event_ids for a few events.

export const DAY0 = '2026-05-04' // a Monday

const id = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`

function lcg(seed: number) {
  let s = seed
  return (n: number) => {
    s = (s * 1_103_515_245 + 12_345) % 2_147_483_648
    return Math.floor((s / 2_147_483_648) * n)
  }
}

/** alpha: 45 events of u1..u6 over 3 weeks from DAY0, page_view/signup/click, plan pro or free. */
export function alphaEvents(): ReferenceEvent[] {
  const r = lcg(7)
  return Array.from({ length: 45 }, (_, i) => ({
    event_id: id(1000 + i),
    occurred_at: `${addDays(DAY0, r(21))}T${String(r(24)).padStart(2, '0')}:15:00Z`,
    user_id: `u${1 + r(6)}`,
    event_type: ['page_view', 'signup', 'click'][r(3)]!,
    properties: { plan: r(2) === 0 ? 'pro' : 'free' },
  }))
}

/** beta: 35 events of u4..u9 from DAY0 + 6 on, click/purchase, plan team and a number; its first 6 ids are alpha's. */
export function betaEvents(): ReferenceEvent[] {
  const r = lcg(11)
  return Array.from({ length: 35 }, (_, i) => ({
    event_id: i < 6 ? id(1000 + i) : id(2000 + i),
    occurred_at: `${addDays(DAY0, 6 + r(22))}T${String(r(24)).padStart(2, '0')}:45:00Z`,
    user_id: `u${4 + r(6)}`,
    event_type: ['click', 'purchase'][r(2)]!,
    properties: { plan: 'team', n: r(7) },
  }))
}

const q = (over: Partial<StatsQuery> & Pick<StatsQuery, 'route'>): StatsQuery => ({
  from: addDays(DAY0, -3),
  to: addDays(DAY0, 32),
  windows: 4,
  limit: 10,
  by: ['plan'],
  segment: [],
  ...over,
})

/** Every /stats route, with and without segment filters. */
export const STATS_QUERIES: StatsQuery[] = [
  q({ route: 'dau' }),
  q({ route: 'dau', segment: [{ field: ['plan'], op: 'eq', values: ['pro'] }] }),
  q({ route: 'dau', segment: [{ field: 'event_type', op: 'in', values: ['click', 'signup'] }] }),
  q({ route: 'top-events' }),
  q({ route: 'top-events', limit: 1, segment: [{ field: 'user_id', op: 'eq', values: ['u5'] }] }),
  q({ route: 'retention', from: DAY0 }),
  q({ route: 'retention', from: addDays(DAY0, 7), windows: 2 }),
  q({
    route: 'retention',
    from: DAY0,
    segment: [{ field: 'event_type', op: 'eq', values: ['click'] }],
  }),
  q({ route: 'retention-day', from: DAY0, windows: 7 }),
  q({ route: 'retention-day', from: addDays(DAY0, 4), windows: 5 }),
  q({ route: 'breakdown', by: ['plan'], limit: 5 }),
  q({ route: 'breakdown', by: ['n'], limit: 3 }),
  q({
    route: 'breakdown',
    by: 'event_type',
    limit: 2,
    segment: [{ field: 'user_id', op: 'in', values: ['u4', 'u5', 'u6'] }],
  }),
  q({ route: 'breakdown', by: 'user_id', limit: 4 }),
  q({ route: 'range' }),
  q({ route: 'cohorts', from: DAY0, to: addDays(DAY0, 27) }),
  q({
    route: 'cohorts',
    from: DAY0,
    to: addDays(DAY0, 27),
    segment: [{ field: ['n'], op: 'gt', values: ['3'] }],
  }),
]
