import { type Dialect, POSTGRES } from './plain-sql.ts'

// The insights questions (funnel, trends, active users, stickiness,
// lifecycle) as plain SQL on one events table, in PostgreSQL's and DuckDB's
// spelling, written the way an analyst would: window functions over each
// user's events for the funnel, DISTINCT (user, day) sets for the rest.
// $1 from, $2 to (dates); occurred_at is a timestamptz in PostgreSQL and a
// UTC TIMESTAMP in DuckDB.

const inRange = (d: Dialect, days = 0) =>
  `occurred_at >= ${d.ts('$1::date')} AND occurred_at < ${d.ts(`$2::date + ${1 + days}`)}`
const us = (d: Dialect, ts: string) =>
  d === POSTGRES ? `(extract(epoch FROM ${ts}) * 1000000)::bigint` : `epoch_us(${ts})`
const median = (d: Dialect, x: string) =>
  d === POSTGRES ? `percentile_cont(0.5) WITHIN GROUP (ORDER BY ${x})` : `median(${x})`
const quote = (s: string) => `'${s.replaceAll("'", "''")}'`

/**
 * An ordered funnel of distinct event types within `windowDays`: for every
 * event, the next time of each later step at or after it (a window over the
 * user's following events, peers at the same instant included); each step-1
 * event is an attempt, the furthest (then earliest) counts. Step k's next
 * time at step k−1's event is the smallest over the step k−1 events after
 * the attempt's start, since "next at or after" only grows with time.
 */
export function funnelSql(d: Dialect, steps: readonly string[], windowDays: number): string {
  const K = steps.length
  const follow =
    'PARTITION BY user_id ORDER BY ts RANGE BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING'
  const layers: string[] = [
    `l${K} AS (SELECT user_id, occurred_at AS ts, event_type FROM events
      WHERE ${inRange(d, windowDays)} AND event_type IN (${steps.map(quote).join(', ')}))`,
  ]
  // l_k carries n_j (j > k): the attempt's step-j time if step k's event were at this row
  for (let k = K - 1; k >= 1; k--) {
    const next = quote(steps[k]!)
    const carried = Array.from({ length: K - k - 1 }, (_, i) => `n${k + 2 + i}`)
    const cols = [
      `min(ts) FILTER (WHERE event_type = ${next}) OVER w AS n${k + 1}`,
      ...carried.map((c) => `min(${c}) FILTER (WHERE event_type = ${next}) OVER w AS ${c}`),
    ]
    layers.push(
      `l${k} AS (SELECT user_id, ts, event_type, ${cols.join(', ')} FROM l${k + 1} WINDOW w AS (${follow}))`,
    )
  }
  const within = (j: number) =>
    Array.from({ length: j - 1 }, (_, i) => `n${i + 2} <= ts + INTERVAL '${windowDays} days'`).join(
      ' AND ',
    )
  const times = Array.from(
    { length: K - 1 },
    (_, i) => `CASE WHEN ${within(i + 2)} THEN ${us(d, `n${i + 2}`)} END AS t${i + 2}`,
  )
  const reached = Array.from({ length: K - 1 }, (_, i) => `(t${i + 2} IS NOT NULL)::int`).join(
    ' + ',
  )
  const perStep = Array.from({ length: K - 1 }, (_, i) => {
    const k = i + 2
    return `count(t${k}) AS users${k}, sum(t${k} - t${k - 1}) AS sum${k}, ${median(d, `t${k} - t${k - 1}`)} AS median${k}`
  })
  return `
  WITH ${layers.join(',\n  ')},
  attempts AS (
    SELECT user_id, ${us(d, 'ts')} AS t1, ${times.join(', ')}
    FROM l1 WHERE event_type = ${quote(steps[0]!)} AND ts < ${d.ts('$2::date + 1')}),
  best AS (
    SELECT DISTINCT ON (user_id) * FROM attempts ORDER BY user_id, ${reached} DESC, t1)
  SELECT count(*) AS users1, ${perStep.join(', ')} FROM best`
}

/** Per day of the range: the value of `measure` for `eventType`'s events. */
export const trendsDailySql = (
  d: Dialect,
  eventType: string,
  measure: 'count' | 'unique_users',
) => `
  SELECT CAST(${d.day} AS VARCHAR) AS start, ${measure === 'count' ? 'count(*)' : 'count(DISTINCT user_id)'} AS value
  FROM events WHERE ${inRange(d)} AND event_type = ${quote(eventType)}
  GROUP BY 1`

/** Per Monday week meeting the range (cut to it): events. */
export const trendsWeeklySql = (d: Dialect) => `
  SELECT CAST(CAST(date_trunc('week', ${d.day}) AS DATE) AS VARCHAR) AS start, count(*) AS value
  FROM events WHERE ${inRange(d)}
  GROUP BY 1`

const daysOf = (d: Dialect) =>
  d === POSTGRES
    ? `SELECT g::date AS day FROM generate_series($1::date, $2::date, interval '1 day') AS g`
    : `SELECT CAST(g.generate_series AS DATE) AS day FROM generate_series(CAST($1 AS DATE)::TIMESTAMP, CAST($2 AS DATE)::TIMESTAMP, INTERVAL 1 DAY) AS g`

/** Per day of the range: distinct users that day, in the 7 and in the 30 days ending with it. */
export const activeUsersSql = (d: Dialect) => `
  WITH active AS (
    SELECT DISTINCT user_id, ${d.day} AS day FROM events
    WHERE occurred_at >= ${d.ts('$1::date - 29')} AND occurred_at < ${d.ts('$2::date + 1')}),
  days AS (${daysOf(d)})
  SELECT CAST(days.day AS VARCHAR) AS day,
         count(DISTINCT a.user_id) FILTER (WHERE a.day = days.day) AS dau,
         count(DISTINCT a.user_id) FILTER (WHERE a.day > days.day - 7) AS wau,
         count(DISTINCT a.user_id) AS mau
  FROM days JOIN active a ON a.day BETWEEN days.day - 29 AND days.day
  GROUP BY days.day`

/** Users by the number of the range's days on which they did `eventType`. */
export const stickinessSql = (d: Dialect, eventType: string) => `
  SELECT k, count(*) AS users FROM (
    SELECT user_id, count(DISTINCT ${d.day}) AS k FROM events
    WHERE ${inRange(d)} AND event_type = ${quote(eventType)} GROUP BY user_id) per_user
  GROUP BY k`

/**
 * Per day of the range, of the users who did `eventType`: new (first day
 * ever), returning (also the day before), resurrecting (a gap before);
 * dormant: active the day before, not this day (negative).
 */
export const lifecycleSql = (d: Dialect, eventType: string) => `
  WITH active AS (
    SELECT DISTINCT user_id, ${d.day} AS day FROM events
    WHERE event_type = ${quote(eventType)} AND occurred_at < ${d.ts('$2::date + 1')}),
  marked AS (
    SELECT day, lag(day) OVER (PARTITION BY user_id ORDER BY day) AS prev,
           lead(day) OVER (PARTITION BY user_id ORDER BY day) AS next
    FROM active)
  SELECT CAST(day AS VARCHAR) AS day,
         count(*) FILTER (WHERE prev IS NULL) AS new,
         count(*) FILTER (WHERE prev = day - 1) AS returning,
         count(*) FILTER (WHERE prev < day - 1) AS resurrecting,
         0 AS dormant
  FROM marked WHERE day >= $1::date GROUP BY day
  UNION ALL
  SELECT CAST(day + 1 AS VARCHAR), 0, 0, 0, -count(*)
  FROM marked WHERE day >= $1::date - 1 AND day < $2::date AND (next IS NULL OR next > day + 1)
  GROUP BY day`
