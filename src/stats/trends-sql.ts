import { NUMBER_TYPES, type PropertyPaths } from '../analytics/property-paths.ts'
import type { DayRange } from './params.ts'
import type { Segment } from './segment.ts'
import { jsonPath, type SegmentField } from './segment.ts'
import { DAYS_1_2, filteredEvents, rollupFor, SqlParams } from './segment-sql.ts'
import type { Interval, Series } from './trends-params.ts'

// One series is one scan of the range's events (and, with compare=previous,
// of the same number of days before it): each event's interval is found by
// date_trunc, after an event of the previous period has been moved forward
// by the period's length, so point i of both periods is the same stretch of
// time, `days` apart, and one GROUP BY gives both. Weeks are ISO weeks
// (date_trunc('week') starts them on Monday), all in UTC (TIMESTAMP columns).

export interface TrendsOptions {
  interval: Interval
  comparePrevious: boolean
  breakdown: { field: SegmentField & { kind: 'property' }; limit: number } | undefined
}

/** A property's value per event, from event_props when the path has a number, else the raw JSON. */
function propertyJoin(
  path: string[],
  alias: string,
  paths: PropertyPaths,
  params: SqlParams,
): { join: string; type: string; text: string; number: string } {
  const id = paths.get(jsonPath(path))
  if (id !== undefined)
    return {
      join: `LEFT JOIN event_props ${alias} ON ${alias}.seq = e.seq AND ${alias}.path_id = ${params.add(id)} AND ${DAYS_1_2(alias)}`,
      type: `${alias}.type`,
      text: `coalesce(${alias}.text, '')`,
      number: `${alias}.number`,
    }
  if (paths.complete)
    return { join: '', type: 'NULL::VARCHAR', text: 'NULL::VARCHAR', number: 'NULL::DOUBLE' }
  const p = params.add(jsonPath(path))
  return {
    join: '',
    type: `json_type(e.properties, ${p})`,
    text: `coalesce(json_extract_string(e.properties, ${p}), '')`,
    number: `TRY_CAST(json_extract_string(e.properties, ${p}) AS DOUBLE)`,
  }
}

/** $1..$2 the days read (the previous period's too), then `from` and the period's length. */
function rangeParams(range: DayRange, options: TrendsOptions) {
  const days = range.to - range.from + 1
  const params = new SqlParams()
  params.add(options.comparePrevious ? range.from - days : range.from)
  params.add(range.to)
  return { params, from: params.add(range.from), shift: params.add(days) }
}

/** The interval of a day (or timestamp) column, a day of the previous period moved forward by the period's length. */
const bucketOf = (interval: Interval, column: string, day: string, from: string, shift: string) =>
  `epoch_us(date_trunc('${interval}', ${column} + to_days(CASE WHEN ${day} < DATE '1970-01-01' + ${from}::INTEGER THEN ${shift}::INTEGER ELSE 0 END)))`

/**
 * Counts and unique users per day, week or month, from the per-day rollups
 * (type_day_counts and day_type_users, or a rolled-up property's) when the
 * filters are ones they answer: sums of counts and the union of daily user
 * bitmaps per block, exact, with no event read. Undefined otherwise.
 */
function rollupSeriesSql(
  series: Series,
  range: DayRange,
  options: TrendsOptions,
  paths: PropertyPaths,
): { sql: string; values: SqlParams['values'] } | undefined {
  const kind = series.measure.kind
  if (options.breakdown || options.interval === 'hour') return undefined
  if (kind !== 'count' && kind !== 'unique_users') return undefined
  const { params, from, shift } = rangeParams(range, options)
  const segments: Segment[] = [...series.segments]
  if (series.eventType !== undefined)
    segments.push({
      text: 'event_type',
      field: { kind: 'event_type' },
      op: 'eq',
      values: [series.eventType],
    })
  const rollup =
    segments.length === 0
      ? { counts: 'type_day_counts', users: 'day_type_users', where: 'TRUE' }
      : rollupFor(segments, paths, params)
  if (!rollup) return undefined
  const table = kind === 'count' ? rollup.counts : rollup.users
  const bucket = bucketOf(options.interval, 'CAST(e.day AS TIMESTAMP)', 'e.day', from, shift)
  const prev = `e.day < DATE '1970-01-01' + ${from}::INTEGER`
  const measured =
    kind === 'count'
      ? `SELECT ${prev} AS prev, ${bucket} AS bucket, sum(e.events)::BIGINT AS events, 0::BIGINT AS users
  FROM ${table} e WHERE ${DAYS_1_2('e')} AND ${rollup.where} GROUP BY ALL`
      : `SELECT prev, bucket, 0::BIGINT AS events, sum(bit_count(users))::BIGINT AS users FROM (
    SELECT ${prev} AS prev, ${bucket} AS bucket, e.block, bit_or(e.users) AS users
    FROM ${table} e WHERE ${DAYS_1_2('e')} AND ${rollup.where} GROUP BY ALL)
  GROUP BY ALL`
  const sql = `SELECT prev, bucket, 'all' AS part, NULL::BIGINT AS grk, NULL::VARCHAR AS vtype, NULL::VARCHAR AS vtext,
       events, users, NULL::DOUBLE AS sum, 0::BIGINT AS n, NULL::DOUBLE AS min, NULL::DOUBLE AS max, 0::BIGINT AS other_values
FROM (${measured})`
  return { sql, values: params.values }
}

export function seriesSql(
  series: Series,
  range: DayRange,
  options: TrendsOptions,
  paths: PropertyPaths,
): { sql: string; values: SqlParams['values'] } {
  const fromRollups = rollupSeriesSql(series, range, options, paths)
  if (fromRollups) return fromRollups
  const { params, from, shift } = rangeParams(range, options)
  const where = [DAYS_1_2('e')]
  if (series.eventType !== undefined) where.push(`e.event_type = ${params.add(series.eventType)}`)
  if (series.segments.length > 0) {
    const f = filteredEvents(series.segments, paths, params, DAYS_1_2)
    where.push(`e.seq IN (SELECT e.seq FROM ${f.from} WHERE ${DAYS_1_2('e')} AND ${f.where})`)
  }
  const joins: string[] = []
  let number = 'NULL::DOUBLE'
  const m = series.measure
  if ('path' in m) {
    const v = propertyJoin(m.path, 'n', paths, params)
    joins.push(v.join)
    number = `CASE WHEN ${v.type} IN ${NUMBER_TYPES} THEN ${v.number} END`
  }
  let vtype = 'NULL::VARCHAR'
  let vtext = 'NULL::VARCHAR'
  if (options.breakdown) {
    const v = propertyJoin(options.breakdown.field.path, 'b', paths, params)
    joins.push(v.join)
    vtype = v.type
    vtext = v.text
  }
  // the interval is one of four words the schema allows, not a value: written in
  const bucket = bucketOf(options.interval, 'e.occurred_at', 'e.day', from, shift)
  const ev = `ev AS MATERIALIZED (
  SELECT e.user_key, e.day < DATE '1970-01-01' + ${from}::INTEGER AS prev, ${bucket} AS bucket,
         ${number} AS num, ${vtype} AS vtype, ${vtext} AS vtext
  FROM events e ${joins.join(' ')}
  WHERE ${where.join(' AND ')})`
  const limit = options.breakdown ? params.add(options.breakdown.limit) : 'NULL'
  // Values are ranked by their events in the current period, then type and
  // text; the rest, and values seen only in the previous period, are 'other'.
  // Each event is counted once in its part and once in 'all', the series as
  // a whole (its unique users are not the sum of the parts').
  const labeled = options.breakdown
    ? `ranks AS (
  SELECT vtype, vtext, row_number() OVER (ORDER BY count(*) DESC, vtype, vtext) AS rk
  FROM ev WHERE NOT prev AND vtype IS NOT NULL GROUP BY vtype, vtext),
parts AS (
  SELECT ev.*, CASE WHEN ev.vtype IS NULL THEN 'not_set' WHEN r.rk <= ${limit}::INTEGER THEN 'top' ELSE 'other' END AS part,
         CASE WHEN r.rk <= ${limit}::INTEGER THEN r.rk END AS grk
  FROM ev LEFT JOIN ranks r USING (vtype, vtext)),
labeled AS (
  SELECT * FROM parts UNION ALL SELECT * REPLACE ('all' AS part, NULL::BIGINT AS grk) FROM parts)`
    : `labeled AS (SELECT ev.*, 'all' AS part, NULL::BIGINT AS grk FROM ev)`
  const others = options.breakdown
    ? `(SELECT count(*) FROM ranks WHERE rk > ${limit}::INTEGER)`
    : '0'
  const keys = 'prev, bucket, part, grk'
  // The median and p90 of events per user, interpolated as DuckDB's
  // quantile_cont does, but from the two ranks around the position, read
  // here, so the arithmetic is done once, in trends.ts, the same way everywhere.
  const quantiles = [0.5, 0.9]
    .flatMap((q, j) => [
      `max(c) FILTER (WHERE i = floor(last * ${q})) AS q${j}_lo`,
      `max(c) FILTER (WHERE i = ceil(last * ${q})) AS q${j}_hi`,
    ])
    .join(', ')
  const select =
    m.kind === 'per_user'
      ? `,
per_user AS (SELECT ${keys}, min(vtype) AS vtype, min(vtext) AS vtext, user_key, count(*) AS c FROM labeled GROUP BY ${keys}, user_key),
ranked AS (
  SELECT *, row_number() OVER w - 1 AS i, count(*) OVER w - 1 AS last
  FROM per_user WINDOW w AS (PARTITION BY ${keys} ORDER BY c ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING))
SELECT ${keys}, min(vtype) AS vtype, min(vtext) AS vtext, sum(c)::BIGINT AS events, count(*)::BIGINT AS users,
       ${quantiles}, ${others}::BIGINT AS other_values
FROM ranked GROUP BY ${keys}`
      : `
SELECT ${keys}, min(vtype) AS vtype, min(vtext) AS vtext, count(*)::BIGINT AS events,
       ${m.kind === 'unique_users' ? 'count(DISTINCT user_key)' : '0'}::BIGINT AS users,
       sum(num)::DOUBLE AS sum, count(num)::BIGINT AS n, min(num)::DOUBLE AS min, max(num)::DOUBLE AS max,
       ${others}::BIGINT AS other_values
FROM labeled GROUP BY ${keys}`
  return { sql: `WITH ${ev},\n${labeled}${select}`, values: params.values }
}
