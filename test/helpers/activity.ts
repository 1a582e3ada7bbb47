import type { ReferenceEvent } from '../stats/reference.ts'

const TYPES = [
  'page_view',
  'page_view',
  'page_view',
  'click',
  'click',
  'search',
  'signup',
  'purchase',
]
const COUNTRIES = ['UA', 'PL', 'DE']

/**
 * A deterministic data set with shape: users join over the weeks from `first`
 * on and come back less and less often, so DAU varies, event types have
 * different counts, and weekly cohorts have a retention triangle.
 */
export function activity(first: string, days: number, users = 60): ReferenceEvent[] {
  let seed = 42
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648
    return seed / 2_147_483_648
  }
  const start = Date.parse(`${first}T00:00:00Z`)
  const events: ReferenceEvent[] = []
  for (let u = 0; u < users; u++) {
    const joined = Math.floor(random() * days)
    for (let d = joined; d < days; d++) {
      const p = d === joined ? 1 : 0.5 / (1 + (d - joined) / 7)
      if (random() >= p) continue
      const n = 1 + Math.floor(random() * 3)
      for (let i = 0; i < n; i++) {
        const at = new Date(start + d * 86_400_000 + Math.floor(random() * 86_400_000))
        events.push({
          event_id: `00000000-0000-4000-8000-${String(events.length + 1).padStart(12, '0')}`,
          occurred_at: at.toISOString(),
          user_id: `user-${u}`,
          event_type: TYPES[Math.floor(random() * TYPES.length)]!,
          properties: { country: COUNTRIES[u % COUNTRIES.length]! },
        })
      }
    }
  }
  return events
}
