import type { PropertyPaths } from '../analytics/property-paths.ts'
import type { DayRange } from './params.ts'
import { PAGE_PREFIX, type PathsSpec } from './paths-params.ts'
import type { Segment } from './segment.ts'
import { SqlParams } from './segment-sql.ts'
import { keptSeqs, RANGE, viewValues, visitsCtes } from './web-visits-sql.ts'

// Paths are read from the web figures' visits (web-visits-sql.ts): the same
// kept events, the same 30-minute gap, the same (time, seq) order, so a path
// never crosses a visit the web panels count twice. On top of them:
// - a node's name is the event type, or page:<path> for a page view with a
//   path (the path as the web panels read it: string or number);
// - only visits holding the anchor can have a path, so the rest are dropped
//   before the two windows over visits;
// - a run of one name is one node (lag over the visit), and the rest are
//   numbered in order (pos);
// - the anchor is the first (start=) or last (end=) node of the visit with the
//   anchor's name, and the path the `steps` nodes from (up to) it;
// - transitions pair each node with the next one of its visit (lead), so a
//   visit counts once per transition and users are counted distinct across
//   visits.
// Both parts come back from one statement, each ranked in SQL (byte order of
// names, which is code point order), so no sort in Node depends on its
// string collation.
export function pathsSql(
  spec: PathsSpec,
  range: DayRange,
  segments: readonly Segment[],
  paths: PropertyPaths,
): { sql: string; values: SqlParams['values'] } {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to)
  const values = viewValues('path', paths, params)
  const seqs = keptSeqs(segments, paths, params)
  const node = params.add(spec.node)
  const steps = `${params.add(spec.steps)}::INTEGER`
  const limit = `${params.add(spec.limit)}::INTEGER`
  const name =
    values === undefined
      ? 'event_type'
      : `CASE WHEN is_view AND value IS NOT NULL THEN 'page:' || value ELSE event_type END`
  const start = spec.mode === 'start'
  const anchor = start ? 'min(pos)' : 'max(pos)'
  // start: the anchor is step 1; end: it is step `steps`, earlier nodes count down to 1.
  const within = start
    ? `s.pos BETWEEN a.anchor_pos AND a.anchor_pos + ${steps} - 1`
    : `s.pos BETWEEN a.anchor_pos - ${steps} + 1 AND a.anchor_pos`
  const step = start ? 's.pos - a.anchor_pos + 1' : `${steps} - (a.anchor_pos - s.pos)`
  const anchorStep = start ? '1' : steps
  // Only users with the anchor somewhere in the range can have a path, and a
  // visit is one user's: their events alone form the same visits. A superset
  // is enough (no filters here; hit is exact). An event type may look like a
  // page node, so a page anchor asks both.
  const byType = `SELECT a.user_key FROM events a WHERE ${RANGE('a')} AND a.event_type = ${node}`
  const users =
    values !== undefined && spec.node.startsWith(PAGE_PREFIX)
      ? `${byType} UNION ALL SELECT v.user_key FROM (${values}) v WHERE 'page:' || v.value = ${node}`
      : byType
  const sql = `
WITH ${visitsCtes(seqs, values, { eventType: true, users })},
named AS (
  SELECT user_key, visit, occurred_at, seq, ${name} AS name FROM visited
),
hit AS (
  SELECT DISTINCT user_key, visit FROM named WHERE name = ${node}
),
runs AS (
  SELECT n.*, lag(n.name) OVER (PARTITION BY n.user_key, n.visit ORDER BY n.occurred_at, n.seq) AS prev
  FROM named n SEMI JOIN hit h ON h.user_key = n.user_key AND h.visit = n.visit
),
nodes_in_order AS (
  SELECT user_key, visit, name,
         row_number() OVER (PARTITION BY user_key, visit ORDER BY occurred_at, seq) AS pos
  FROM runs WHERE prev IS NULL OR prev <> name
),
anchors AS (
  SELECT user_key, visit, ${anchor} AS anchor_pos FROM nodes_in_order WHERE name = ${node} GROUP BY user_key, visit
),
path AS MATERIALIZED (
  SELECT s.user_key, s.visit, (${step})::INTEGER AS step, s.name
  FROM nodes_in_order s JOIN anchors a USING (user_key, visit)
  WHERE ${within}
),
edges AS (
  SELECT user_key, step, name AS src, lead(name) OVER (PARTITION BY user_key, visit ORDER BY step) AS dst FROM path
),
counted AS (
  SELECT step, src, dst, count(DISTINCT user_key) AS users, count(*) AS events
  FROM edges WHERE dst IS NOT NULL GROUP BY step, src, dst
),
top AS (
  SELECT *, row_number() OVER (ORDER BY users DESC, events DESC, step, src, dst) AS rk
  FROM counted QUALIFY rk <= ${limit}
),
wanted AS (
  SELECT step, src AS name FROM top
  UNION SELECT step + 1, dst FROM top
  UNION SELECT ${anchorStep}, ${node}
),
node_users AS (
  SELECT p.step, p.name, count(DISTINCT p.user_key) AS users
  FROM path p SEMI JOIN wanted w ON w.step = p.step AND w.name = p.name
  GROUP BY p.step, p.name
)
SELECT 'edge' AS part, rk, step, src, dst, users::BIGINT AS users, events::BIGINT AS events FROM top
UNION ALL
SELECT 'node', row_number() OVER (ORDER BY step, users DESC, name), step, name, NULL, users::BIGINT, NULL
FROM node_users`
  return { sql, values: params.values }
}
