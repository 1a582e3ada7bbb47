import { dayNumber } from '../../src/stats/params.ts'
import { paths } from '../../src/stats/paths.ts'
import type { PathsSpec } from '../../src/stats/paths-params.ts'
import type { Paths } from '../../src/stats/paths-schema.ts'
import { type Dialect, DUCKDB, POSTGRES } from './plain-sql.ts'
import type { StatsQuery } from './query-set.ts'

// /stats/paths in the bench (query-set.ts adds it to the realistic set),
// beside the question as anyone would write it on one events table: visits by
// lag() over each user's events by time (the 30-minute gap), repeats dropped
// by lag() over the visit, row_number() for positions, the anchor's position
// as a window min (max for end=), lead() for the next node. $1 from, $2 to
// (dates), $3 the anchor's node name, $4 steps, $5 limit. Ties in time go by
// event_id, the order the store gives one batch's rows.

type Rows = Array<Record<string, unknown>>
const both = (sql: (d: Dialect) => string) => ({ postgres: sql(POSTGRES), duckdb: sql(DUCKDB) })
const n = (v: unknown) => Number(v)

const inRange = (d: Dialect) =>
  `occurred_at >= ${d.ts('$1::date')} AND occurred_at < ${d.ts('$2::date + 1')}`

export const pathsSqlPlain = (mode: 'start' | 'end') => (d: Dialect) => {
  const order = 'ORDER BY occurred_at, event_id'
  const anchor = mode === 'start' ? 'min' : 'max'
  const within =
    mode === 'start'
      ? 'pos >= anchor_pos AND pos < anchor_pos + $4::int'
      : 'pos <= anchor_pos AND pos > anchor_pos - $4::int'
  const step = mode === 'start' ? 'pos - anchor_pos + 1' : '$4::int - (anchor_pos - pos)'
  const anchorStep = mode === 'start' ? '1' : '$4::int'
  return `
  WITH kept AS (
    SELECT user_id, occurred_at, event_id,
           CASE WHEN event_type IN ('page_view', '$pageview') AND ${d.prop(['path'])} IS NOT NULL THEN 'page:' || ${d.prop(['path'])}
                ELSE event_type END AS name
    FROM events WHERE ${inRange(d)}),
  gaps AS (
    SELECT *, CASE WHEN occurred_at - lag(occurred_at) OVER (PARTITION BY user_id ${order}) > INTERVAL '30 minutes'
                   THEN 1 ELSE 0 END AS starts
    FROM kept),
  visited AS (
    SELECT *, sum(starts) OVER (PARTITION BY user_id ${order} ROWS UNBOUNDED PRECEDING) AS visit FROM gaps),
  collapsed AS (
    SELECT *, lag(name) OVER (PARTITION BY user_id, visit ${order}) AS prev FROM visited),
  numbered AS (
    SELECT user_id, visit, name, row_number() OVER (PARTITION BY user_id, visit ${order}) AS pos
    FROM collapsed WHERE prev IS NULL OR prev <> name),
  anchored AS (
    SELECT *, ${anchor}(CASE WHEN name = $3::text THEN pos END) OVER (PARTITION BY user_id, visit) AS anchor_pos FROM numbered),
  path AS (
    SELECT user_id, visit, ${step} AS step, name FROM anchored WHERE ${within}),
  edges AS (
    SELECT user_id, step, name AS src, lead(name) OVER (PARTITION BY user_id, visit ORDER BY step) AS dst FROM path),
  top AS (
    SELECT step, src, dst, count(DISTINCT user_id) AS users, count(*) AS events
    FROM edges WHERE dst IS NOT NULL GROUP BY step, src, dst
    ORDER BY users DESC, events DESC, step, src ${d.bytes}, dst ${d.bytes} LIMIT $5::int),
  wanted AS (
    SELECT step, src AS name FROM top UNION SELECT step + 1, dst FROM top UNION SELECT ${anchorStep}, $3::text)
  SELECT 'edge' AS part, step, src AS name, dst, users, events FROM top
  UNION ALL
  SELECT 'node', p.step, p.name, NULL, count(DISTINCT p.user_id), NULL
  FROM path p JOIN wanted w ON w.step = p.step AND w.name = p.name GROUP BY p.step, p.name`
}

// Names compare as bytes (the SQL's order); JS < on strings compares UTF-16 units.
const bytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b))

function normalize(rows: Rows): Paths {
  const edges = rows
    .filter((r) => r.part === 'edge')
    .map((r) => ({
      step: n(r.step),
      from: String(r.name),
      to: String(r.dst),
      users: n(r.users),
      events: n(r.events),
    }))
    .sort(
      (a, b) =>
        b.users - a.users ||
        b.events - a.events ||
        a.step - b.step ||
        bytes(a.from, b.from) ||
        bytes(a.to, b.to),
    )
  const nodes = rows
    .filter((r) => r.part === 'node')
    .map((r) => ({ step: n(r.step), name: String(r.name), users: n(r.users) }))
    .sort((a, b) => a.step - b.step || b.users - a.users || bytes(a.name, b.name))
  return { nodes, transitions: edges }
}

export function pathsQueries(from: string, to: string): StatsQuery[] {
  const range = { from: dayNumber(from), to: dayNumber(to) }
  const query = (name: string, spec: PathsSpec, param: string): StatsQuery => ({
    name,
    path: `/stats/paths?from=${from}&to=${to}&${param}&steps=${spec.steps}&limit=${spec.limit}`,
    duck: (r) => paths(r, range, spec, []),
    plain: both(pathsSqlPlain(spec.mode)),
    values: [from, to, spec.node, spec.steps, spec.limit],
    normalize,
    comparable: (a) => a,
  })
  return [
    query(
      'paths from page:/ 5 steps',
      { mode: 'start', node: 'page:/', steps: 5, limit: 50 },
      'start=page:/',
    ),
    query(
      'paths to purchase 5 steps',
      { mode: 'end', node: 'purchase', steps: 5, limit: 50 },
      'end=event:purchase',
    ),
  ]
}
