import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { Segment } from '../stats/segment.ts'
import { filteredEvents, SqlParams } from '../stats/segment-sql.ts'

/**
 * The user ids whose events the person-level filters keep (user_id, which
 * /stats applies to the person an id belongs to after merges, and
 * user.<trait>), and the ids merged into a GDPR subject. Who is who is
 * applied in the replica (identity-schema.ts): it is asked, with the same SQL
 * the stats filters use, for the persons that match, and answers every id
 * counted as each of them. The replica is as fresh as /stats: an id linked a
 * moment ago may not be in the answer yet.
 */
export async function idsOfPersons(
  replica: DuckDbReplica,
  segments: readonly Segment[],
): Promise<string[]> {
  const params = new SqlParams()
  const { where } = filteredEvents(segments, replica.paths, params)
  const rows = await replica.query<{ id: string }>(
    `SELECT DISTINCT i.id FROM users e
     JOIN (SELECT user_id AS id, user_id AS person FROM users
           UNION SELECT user_id, person FROM identity_ids) i ON i.person = e.user_id
     WHERE ${where}
     ORDER BY i.id`,
    params.values,
  )
  return rows.map((r) => r.id)
}

/** Every id counted as the same person as `id`, `id` itself included (an id never seen is its own). */
export async function idsOfSubject(replica: DuckDbReplica, id: string): Promise<string[]> {
  const rows = await replica.query<{ id: string }>(
    `WITH p AS (SELECT coalesce((SELECT person FROM identity_ids WHERE user_id = $1), $1) AS person)
     SELECT $1 AS id
     UNION SELECT p.person FROM p
     UNION SELECT i.user_id FROM identity_ids i, p WHERE i.person = p.person
     ORDER BY id`,
    [id],
  )
  return rows.map((r) => r.id)
}
