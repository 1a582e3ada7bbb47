import { type Dialect, POSTGRES } from './plain-sql.ts'

// The web questions (/stats/web/*) as plain SQL on one events table, in
// PostgreSQL's and DuckDB's spelling: sessionizing with lag() over each
// user's events by time, as anyone would. $1 from, $2 to (dates), $3 limit.
// occurred_at is a timestamptz in PostgreSQL and a UTC TIMESTAMP in DuckDB.

const inRange = (d: Dialect) =>
  `occurred_at >= ${d.ts('$1::date')} AND occurred_at < ${d.ts('$2::date + 1')}`
const durationUs = (d: Dialect) =>
  d === POSTGRES
    ? '(extract(epoch FROM max(occurred_at) - min(occurred_at)) * 1000000)::bigint'
    : 'epoch_us(max(occurred_at)) - epoch_us(min(occurred_at))'

/** The range's events as visits: `visited` (user_id, occurred_at, is_view, value, visit) and `per_visit`. */
const visits = (d: Dialect, value = 'NULL') => `
  kept AS (SELECT user_id, occurred_at, event_type IN ('page_view', '$pageview') AS is_view, ${value} AS value FROM events WHERE ${inRange(d)}),
  gaps AS (
    SELECT *, coalesce(occurred_at - lag(occurred_at) OVER (PARTITION BY user_id ORDER BY occurred_at) > INTERVAL '30 minutes', true) AS starts
    FROM kept),
  visited AS (
    SELECT *, sum(CASE WHEN starts THEN 1 ELSE 0 END) OVER (PARTITION BY user_id ORDER BY occurred_at ROWS UNBOUNDED PRECEDING) AS visit
    FROM gaps),
  per_visit AS (
    SELECT user_id, visit, min(occurred_at) AS started, count(*) AS events,
           sum(CASE WHEN is_view THEN 1 ELSE 0 END) AS views, ${durationUs(d)} AS duration_us
    FROM visited GROUP BY user_id, visit)`

/** Per day: visitors, page views, visits started; and the totals (part 'total'). */
export const webOverviewSql = (d: Dialect) => `
  WITH ${visits(d)}
  SELECT 'day' AS part, CAST(day AS VARCHAR) AS day, sum(visitors) AS visitors, sum(views) AS views, sum(visits) AS visits,
         0 AS bounces, 0 AS duration_us
  FROM (
    SELECT ${d.day} AS day, count(DISTINCT user_id) AS visitors, sum(CASE WHEN is_view THEN 1 ELSE 0 END) AS views, 0 AS visits
    FROM visited GROUP BY 1
    UNION ALL
    SELECT ${d.day.replaceAll('occurred_at', 'started')}, 0, 0, count(*) FROM per_visit GROUP BY 1
  ) b GROUP BY day
  UNION ALL
  SELECT 'total', NULL, (SELECT count(DISTINCT user_id) FROM visited), coalesce(sum(views), 0), count(*),
         count(*) FILTER (WHERE events = 1 AND views = 1), coalesce(sum(duration_us), 0)
  FROM per_visit`

/** Page views and visitors per path. */
export const webTopPagesSql = (d: Dialect) => `
  SELECT ${d.prop(['path'])} AS value, count(*) AS views, count(DISTINCT user_id) AS visitors
  FROM events WHERE ${inRange(d)} AND event_type IN ('page_view', '$pageview') AND ${d.prop(['path'])} IS NOT NULL
  GROUP BY 1 ORDER BY views DESC, visitors DESC, ${d.prop(['path'])} ${d.bytes} LIMIT $3::int`

/** Visits by the value of `property` on their first page view carrying it (by time, then value). */
export const webEntrySql = (d: Dialect, property: string) => `
  WITH ${visits(d, d.prop([property]))},
  entry AS (
    SELECT user_id, visit, value FROM (
      SELECT user_id, visit, value, row_number() OVER (PARTITION BY user_id, visit ORDER BY occurred_at, value ${d.bytes}) AS rn
      FROM visited WHERE is_view AND value IS NOT NULL) x
    WHERE rn = 1)
  SELECT e.value, count(DISTINCT p.user_id) AS visitors, count(*) AS visits, sum(p.views) AS views,
         count(*) FILTER (WHERE p.events = 1 AND p.views = 1) AS bounces, sum(p.duration_us) AS duration_us
  FROM entry e JOIN per_visit p USING (user_id, visit)
  GROUP BY e.value ORDER BY visits DESC, visitors DESC, e.value ${d.bytes} LIMIT $3::int`
