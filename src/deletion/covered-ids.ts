import { applyIdentities } from '../analytics/identity-merge.ts'
import type { IdentityRow } from '../store/change-feed.ts'
import type { SqlClient } from '../store/sql-client.ts'

// Every identity call of the project in commit order, as the replica's feed
// reads them: the same rules (identity-merge.ts) over the same rows decide the
// same persons the replica counts.
const ALL_IDENTITIES = `
SELECT m.xact_id::text AS xact, m.seq::text AS seq, m.message_id::text AS message_id, m.kind,
       m.source, m.user_id, m.anonymous_id, m.previous_id, m.group_id, m.group_type,
       NULL AS traits, NULL AS traits_once,
       (extract(epoch FROM m.occurred_at) * 1000000)::bigint::text AS micros
FROM identity_messages m
WHERE m.project_id = $1 AND m.kind IN ('identify', 'alias')
ORDER BY m.xact_id, m.seq`

/**
 * The ids a deletion of `userId` covers: every id of the person it belongs to,
 * as the replica counts them (the id itself, the person's id, and every id
 * merged into it). The replica keeps a person's events under one key and
 * cannot tell which merged id sent which, so a person is deleted whole.
 * Sorted. Only links matter here: traits and groups never move an id.
 */
export async function coveredIds(
  db: SqlClient,
  project: number,
  userId: string,
): Promise<string[]> {
  const { rows } = await db.query<IdentityRow>(ALL_IDENTITIES, [project])
  const ids = new Set([userId])
  if (rows.length > 0) {
    const known = applyIdentities(rows, { ids: new Map(), personIdentified: new Map() }).ids
    const person = known.get(userId)?.person ?? userId
    ids.add(person)
    for (const [id, { person: p }] of known) if (p === person) ids.add(id)
  }
  return [...ids].sort()
}
