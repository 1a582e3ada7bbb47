import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'

export interface ProfileEvent {
  event_type: string
  occurred_at: string
  properties: Record<string, unknown>
}

export interface Profile {
  /** the person's id: the one its merged ids are counted as */
  user_id: string
  /** every id counted as this person, its own included, sorted */
  ids: string[]
  identified: boolean
  traits: Record<string, unknown>
  groups: Record<string, string>
  first_seen: string | null
  last_seen: string | null
  event_count: number
  recent_events: ProfileEvent[]
}

// Microseconds kept: occurred_at is stored to the microsecond.
const iso = (time: string) => `strftime(${time}, '%Y-%m-%dT%H:%M:%S.%fZ')`

/**
 * A user's profile as the replica has it (as fresh as /stats): asked by any
 * id merged into the person, answered for the person. Undefined when no
 * event, identify or alias ever named the id.
 */
export async function userProfile(
  replica: DuckDbReplica,
  id: string,
  recent: number,
): Promise<Profile | undefined> {
  const [named] = await replica.query<{ person: string; known: boolean; user_key: number | null }>(
    `WITH p AS (SELECT coalesce((SELECT person FROM identity_ids WHERE user_id = $1), $1) AS person)
     SELECT p.person,
            EXISTS (SELECT 1 FROM identity_ids WHERE user_id = $1) AS known,
            (SELECT user_key FROM users WHERE user_id = p.person) AS user_key
     FROM p`,
    [id],
  )
  const { person, known, user_key: key } = named!
  if (!known && key === null) return undefined
  const [ids, traits, groups, summary, events] = await Promise.all([
    replica.query<{ user_id: string; identified: boolean }>(
      'SELECT user_id, identified FROM identity_ids WHERE person = $1',
      [person],
    ),
    replica.query<{ trait: string; value: string }>(
      'SELECT trait, value FROM user_traits WHERE person = $1 ORDER BY trait',
      [person],
    ),
    replica.query<{ group_type: string; group_id: string }>(
      'SELECT group_type, group_id FROM user_groups WHERE person = $1 ORDER BY group_type',
      [person],
    ),
    key === null
      ? Promise.resolve([])
      : replica.query<{ n: bigint; first: string | null; last: string | null }>(
          `SELECT count(*) AS n, ${iso('min(occurred_at)')} AS first, ${iso('max(occurred_at)')} AS last
           FROM events WHERE user_key = $1`,
          [key],
        ),
    key === null || recent === 0
      ? Promise.resolve([])
      : replica.query<{ event_type: string; occurred_at: string; properties: string | null }>(
          `SELECT event_type, ${iso('occurred_at')} AS occurred_at, properties FROM events
           WHERE user_key = $1 ORDER BY occurred_at DESC, seq DESC LIMIT $2::INTEGER`,
          [key, recent],
        ),
  ])
  return {
    user_id: person,
    ids: [...new Set([person, ...ids.map((r) => r.user_id)])].sort(),
    identified: ids.some((r) => r.identified),
    traits: Object.fromEntries(traits.map((t) => [t.trait, JSON.parse(t.value)])),
    groups: Object.fromEntries(groups.map((g) => [g.group_type, g.group_id])),
    first_seen: summary[0]?.first ?? null,
    last_seen: summary[0]?.last ?? null,
    event_count: Number(summary[0]?.n ?? 0),
    recent_events: events.map((e) => ({
      event_type: e.event_type,
      occurred_at: e.occurred_at,
      properties: e.properties === null ? {} : JSON.parse(e.properties),
    })),
  }
}
