// The SQL a developer would write for each /stats question against one plain
// events table, in PostgreSQL's and DuckDB's spelling: the baselines the
// service is measured against, and the answers it is checked against. Days are
// UTC days like the service's. Filters are fixed conditions of the
// benchmark's own (never input), so they are written into the SQL.

export interface Dialect {
  /** an event's UTC day, a date */
  day: string
  /** a date expression as the instant its UTC day starts, to compare occurred_at with */
  ts: (date: string) => string
  /** integer division */
  idiv: string
  /** after a text ORDER BY: byte order, as DuckDB sorts */
  bytes: string
  /** a property's text at a path of keys */
  prop: (path: readonly string[]) => string
  /** a property as a number */
  num: (path: readonly string[]) => string
}

export const POSTGRES: Dialect = {
  day: `(occurred_at AT TIME ZONE 'UTC')::date`,
  ts: (date) => `(${date})::timestamp AT TIME ZONE 'UTC'`,
  idiv: '/',
  bytes: 'COLLATE "C"',
  prop: (path) =>
    path.length === 1 ? `(properties->>'${path[0]}')` : `(properties #>> '{${path.join(',')}}')`,
  num: (path) => `(${POSTGRES.prop(path)})::numeric`,
}

// occurred_at is a TIMESTAMP in UTC in the plain DuckDB table.
export const DUCKDB: Dialect = {
  day: 'occurred_at::DATE',
  ts: (date) => `CAST(${date} AS TIMESTAMP)`,
  idiv: '//',
  bytes: '',
  prop: (path) => `(properties->>'$.${path.join('.')}')`,
  num: (path) => `CAST(${DUCKDB.prop(path)} AS DOUBLE)`,
}

/** A filter, as a function of the dialect: `properties.referrer:google` → its condition. */
export type PlainFilter = (d: Dialect) => string

const inRange = (d: Dialect) =>
  `occurred_at >= ${d.ts('$1::date')} AND occurred_at < ${d.ts('$2::date + 1')}`

/** $1 from, $2 to: (day, users) per day with events. */
export const dauSql = (d: Dialect, f: PlainFilter = () => 'TRUE') => `
  SELECT CAST(${d.day} AS VARCHAR) AS day, count(DISTINCT user_id) AS users
  FROM events WHERE ${inRange(d)} AND ${f(d)}
  GROUP BY 1 ORDER BY 1`

/** $1 from, $2 to, $3 limit. */
export const topSql = (d: Dialect, f: PlainFilter = () => 'TRUE') => `
  SELECT event_type, count(*) AS count, count(DISTINCT user_id) AS unique_users
  FROM events WHERE ${inRange(d)} AND ${f(d)}
  GROUP BY 1 ORDER BY count(*) DESC, event_type ${d.bytes} LIMIT $3::int`

/**
 * $1 start, $2 windows: the cohort (users whose first matching event falls in
 * [start, start + period)) as window 0, then the cohort users with a matching
 * event in each window.
 */
export const retentionSql = (d: Dialect, period: number, f: PlainFilter = () => 'TRUE') => `
  WITH firsts AS (SELECT user_id, min(${d.day}) AS first_day FROM events WHERE ${f(d)} GROUP BY user_id),
  cohort AS (SELECT user_id FROM firsts WHERE first_day >= $1::date AND first_day < $1::date + ${period})
  SELECT 0 AS k, count(*) AS users FROM cohort
  UNION ALL
  SELECT (${d.day} - $1::date) ${d.idiv} ${period} AS k, count(DISTINCT e.user_id)
  FROM events e JOIN cohort c USING (user_id)
  WHERE occurred_at >= ${d.ts(`$1::date + ${period}`)} AND occurred_at < ${d.ts(`$1::date + ${period} * ($2::int + 1)`)} AND ${f(d)}
  GROUP BY 1`

/** $1 from, $2 weeks: cohort sizes (w = -1) and the cells (cohort c, range week w > c). */
export const cohortsSql = (d: Dialect) => `
  WITH firsts AS (SELECT user_id, min(${d.day}) AS first_day FROM events GROUP BY user_id),
  cohort AS (SELECT user_id, (first_day - $1::date) ${d.idiv} 7 AS c FROM firsts WHERE first_day >= $1::date AND first_day < $1::date + 7 * $2::int),
  active AS (SELECT DISTINCT user_id, (${d.day} - $1::date) ${d.idiv} 7 AS w FROM events
             WHERE occurred_at >= ${d.ts('$1::date + 7')} AND occurred_at < ${d.ts('$1::date + 7 * $2::int')})
  SELECT c, -1 AS w, count(*) AS users FROM cohort GROUP BY c
  UNION ALL
  SELECT c.c, a.w, count(*) FROM cohort c JOIN active a USING (user_id) WHERE a.w > c.c GROUP BY 1, 2`

/** $1 from, $2 to: the top 10 values, the rest folded into one, and the events without the property. */
export const breakdownSql = (d: Dialect, path: readonly string[]) => `
  WITH v AS (SELECT ${d.prop(path)} AS value, user_id FROM events WHERE ${inRange(d)}),
  per AS (SELECT value, count(*) AS count, count(DISTINCT user_id) AS unique_users FROM v WHERE value IS NOT NULL GROUP BY value),
  top AS (SELECT * FROM per ORDER BY count DESC, unique_users DESC, value ${d.bytes} LIMIT 10)
  SELECT 'top' AS part, value, count, unique_users FROM top
  UNION ALL
  SELECT 'other', NULL, count(*), count(DISTINCT user_id) FROM v WHERE value IS NOT NULL AND value NOT IN (SELECT value FROM top)
  UNION ALL
  SELECT 'values', NULL, (SELECT count(*) FROM per) - (SELECT count(*) FROM top), 0
  UNION ALL
  SELECT 'not_set', NULL, count(*), 0 FROM v WHERE value IS NULL`

// Filters, spelled the obvious way. `ne` keeps events without the property, as the service's does.
export const propEq =
  (path: readonly string[], value: string): PlainFilter =>
  (d) =>
    `${d.prop(path)} = '${value}'`
export const propNe =
  (path: readonly string[], value: string): PlainFilter =>
  (d) =>
    `${d.prop(path)} IS DISTINCT FROM '${value}'`
export const propGt =
  (path: readonly string[], value: number): PlainFilter =>
  (d) =>
    `${d.num(path)} > ${value}`
