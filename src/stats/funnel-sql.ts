import type { PropertyPaths } from '../analytics/property-paths.ts'
import type { FunnelSpec } from './funnel-params.ts'
import type { DayRange } from './params.ts'
import type { Segment } from './segment.ts'
import { jsonPath } from './segment.ts'
import { DAYS_1_2, filteredEvents, SqlParams } from './segment-sql.ts'

// A funnel is a per-user scan in time order, written as joins instead of a
// loop: step k of an attempt is "the first event of step k at or after the
// step k−1 event", which is exactly what an ASOF join finds, one join per
// step over each step's (few) events, sorted once by DuckDB. No events come
// into Node.
//
// Events are ordered by (occurred_at, seq). `key` packs both into one HUGEINT
// (microseconds × 2^63 + seq) so an ASOF join can order by it, and the
// smallest key of an instant is microseconds × 2^63: "at or after the
// instant t" is key >= tie(t), which takes in the events of the same instant
// that were stored earlier, as the definition wants (equal timestamps are
// allowed, whichever the store holds first).
//
// "One event completes at most one step" only matters when the candidate is
// an earlier step's own event: possible only when that step has the same
// event type, and only at the same instant. For such steps the candidate is
// re-drawn past it (one more ASOF join per earlier step of that type).

const SHIFT = '9223372036854775808'
const tie = (ts: string) => `(${ts})::HUGEINT * ${SHIFT}`

export interface FunnelSql {
  sql: string
  values: SqlParams['values']
}

/** The seqs of the events these filters keep, within the query's days ($1..$2). */
function seqsOf(segments: readonly Segment[], paths: PropertyPaths, params: SqlParams): string {
  const f = filteredEvents(segments, paths, params, DAYS_1_2)
  return `SELECT e.seq FROM ${f.from} WHERE ${DAYS_1_2('e')} AND ${f.where}`
}

/**
 * Columns per counted user: reached (steps completed), t1..tK (microseconds,
 * NULL past reached) and, with a breakdown, vtype and vtext (NULL: not set).
 */
function countedSql(
  spec: FunnelSpec,
  range: DayRange,
  segments: readonly Segment[],
  paths: PropertyPaths,
  params: SqlParams,
): string {
  const K = spec.steps.length
  const w = params.add(spec.windowUs)
  const lastEntryDay = params.add(range.to)
  // Strict order looks at every event the filters keep; the other orders
  // need only the steps' and exclusions' types.
  const types = [...new Set([...spec.steps, ...spec.exclusions].map((s) => s.eventType))]
  const typeWhere =
    spec.order === 'strict'
      ? ''
      : `AND e.event_type IN (${types.map((t) => params.add(t)).join(', ')})`
  const segmentWhere =
    segments.length === 0 ? '' : `AND e.seq IN (${seqsOf(segments, paths, params)})`
  const ctes: string[] = [
    `u AS MATERIALIZED (
  SELECT e.user_key, e.seq, e.event_type, e.day, epoch_us(e.occurred_at) AS ts,
         ${tie('epoch_us(e.occurred_at)')} + e.seq AS key
  FROM events e WHERE ${DAYS_1_2('e')} ${typeWhere} ${segmentWhere})`,
  ]
  spec.steps.forEach((step, i) => {
    const filters =
      step.filters.length === 0 ? '' : `AND seq IN (${seqsOf(step.filters, paths, params)})`
    ctes.push(
      `s${i + 1} AS (SELECT user_key, key, ts, seq, day FROM u WHERE event_type = ${params.add(step.eventType)} ${filters})`,
    )
  })
  if (spec.order === 'unordered') ctes.push(...unorderedAttempts(K, w, lastEntryDay))
  else ctes.push(...orderedAttempts(spec, w, lastEntryDay))
  // The attempt that got furthest, ties the earliest.
  ctes.push(`best AS (
  SELECT * FROM reached
  QUALIFY row_number() OVER (PARTITION BY user_key ORDER BY reached DESC, k1) = 1)`)
  const exclusionJoins: string[] = []
  const voided: string[] = []
  for (let i = 1; i < K; i++) {
    const excluded = spec.exclusions.filter((x) => x.after === undefined || x.after === i)
    if (excluded.length === 0) continue
    ctes.push(
      `x${i} AS (SELECT user_key, ts FROM u WHERE event_type IN (${excluded.map((x) => params.add(x.eventType)).join(', ')}))`,
    )
    exclusionJoins.push(
      `ASOF LEFT JOIN x${i} ON x${i}.user_key = b.user_key AND x${i}.ts > b.t${i}`,
    )
    voided.push(`coalesce(x${i}.ts < b.t${i + 1}, FALSE)`)
  }
  ctes.push(`counted AS (
  SELECT b.* FROM best b ${exclusionJoins.join(' ')}
  ${voided.length === 0 ? '' : `WHERE NOT (${voided.join(' OR ')})`})`)
  return `WITH ${ctes.join(',\n')}`
}

/** a1..aK: each step-1 event starts an attempt; step k's event is drawn from s_k. */
function orderedAttempts(spec: FunnelSpec, w: string, lastEntryDay: string): string[] {
  const K = spec.steps.length
  const ctes = [
    `a1 AS (SELECT user_key, key AS k1, ts AS t1, seq AS q1 FROM s1 WHERE day <= DATE '1970-01-01' + ${lastEntryDay}::INTEGER)`,
  ]
  for (let k = 2; k <= K; k++) {
    const prev = `a${k - 1}`
    ctes.push(`c${k}_0 AS (
  SELECT a.*, s.key AS c, s.ts AS ct, s.seq AS cq FROM ${prev} a
  ASOF LEFT JOIN s${k} s ON s.user_key = a.user_key AND s.key >= ${tie(`a.t${k - 1}`)})`)
    const sameType: string[] = []
    for (let j = 1; j < k; j++)
      if (spec.steps[j - 1]!.eventType === spec.steps[k - 1]!.eventType) sameType.push(`a.k${j}`)
    sameType.forEach((_, r) => {
      const used = `a.c IN (${sameType.join(', ')})`
      ctes.push(`c${k}_${r + 1} AS (
  SELECT a.* EXCLUDE (c, ct, cq),
         CASE WHEN ${used} THEN s.key ELSE a.c END AS c,
         CASE WHEN ${used} THEN s.ts ELSE a.ct END AS ct,
         CASE WHEN ${used} THEN s.seq ELSE a.cq END AS cq
  FROM c${k}_${r} a ASOF LEFT JOIN s${k} s ON s.user_key = a.user_key AND s.key > a.c)`)
    })
    const drawn = `c${k}_${sameType.length}`
    // strict: the next instant after step k−1 with any event must not come before the candidate
    const strictJoin =
      spec.order === 'strict'
        ? `ASOF LEFT JOIN u n ON n.user_key = a.user_key AND n.ts > a.t${k - 1}`
        : ''
    // An attempt that stopped before step k−1 has t(k−1) NULL; DuckDB's ASOF
    // join does not always leave such a row unmatched (seen on 1.5 with many
    // users: a NULL left key drew an arbitrary candidate), so it is ruled out here.
    const ok = `a.t${k - 1} IS NOT NULL AND a.c IS NOT NULL AND a.ct <= a.t1 + ${w}${spec.order === 'strict' ? ' AND (n.ts IS NULL OR a.ct <= n.ts)' : ''}`
    ctes.push(`a${k} AS (
  SELECT a.* EXCLUDE (c, ct, cq),
         CASE WHEN ${ok} THEN a.c END AS k${k},
         CASE WHEN ${ok} THEN a.ct END AS t${k},
         CASE WHEN ${ok} THEN a.cq END AS q${k}
  FROM ${drawn} a ${strictJoin})`)
  }
  const reached = Array.from({ length: K - 1 }, (_, i) => `(k${i + 2} IS NOT NULL)::INTEGER`)
  ctes.push(`reached AS (SELECT *, 1 + ${reached.join(' + ')} AS reached FROM a${K})`)
  return ctes
}

/**
 * Any step's event starts an attempt (steps are of distinct types here); it
 * reaches as many steps as have an event within the window from it. Step k's
 * time is the k-th of those events' times, in time order.
 */
function unorderedAttempts(K: number, w: string, lastEntryDay: string): string[] {
  const steps = Array.from({ length: K }, (_, i) => i + 1)
  const starts = steps
    .map((j) => `SELECT user_key, key, ts, seq, day FROM s${j}`)
    .join(' UNION ALL ')
  const joins = steps
    .map(
      (j) =>
        `ASOF LEFT JOIN s${j} m${j} ON m${j}.user_key = a.user_key AND m${j}.key >= ${tie('a.ts')}`,
    )
    .join('\n  ')
  const times = steps.map((j) => `CASE WHEN m${j}.ts <= a.ts + ${w} THEN m${j}.ts END`)
  return [
    `a0 AS (
  SELECT a.user_key, a.key AS k1, a.seq AS q1,
         list_sort(list_filter([${times.join(', ')}], lambda x: x IS NOT NULL)) AS times
  FROM (${starts}) a
  ${joins}
  WHERE a.day <= DATE '1970-01-01' + ${lastEntryDay}::INTEGER)`,
    `reached AS (
  SELECT user_key, k1, q1, len(times) AS reached, ${steps.map((j) => `times[${j}] AS t${j}`).join(', ')}
  FROM a0)`,
  ]
}

/** The breakdown value of each counted user: the property at the chosen step's event. */
function valueSql(spec: FunnelSpec, paths: PropertyPaths, params: SqlParams): string {
  const b = spec.breakdown!
  if (b.field.kind === 'trait')
    return `valued AS (
  SELECT c.*, t.type AS vtype, coalesce(t.text, '') AS vtext FROM counted c
  JOIN users u USING (user_key)
  LEFT JOIN user_traits t ON t.person = u.user_id AND t.trait = ${params.add(b.field.key)})`
  const seq = spec.order === 'unordered' ? 'c.q1' : `c.q${b.step}`
  const path = jsonPath(b.field.path)
  const id = paths.get(path)
  if (id !== undefined)
    return `valued AS (
  SELECT c.*, p.type AS vtype, coalesce(p.text, '') AS vtext FROM counted c
  LEFT JOIN event_props p ON p.seq = ${seq} AND p.path_id = ${params.add(id)} AND ${DAYS_1_2('p')})`
  if (paths.complete)
    return `valued AS (SELECT c.*, NULL::VARCHAR AS vtype, NULL::VARCHAR AS vtext FROM counted c)`
  const p = params.add(path)
  return `valued AS (
  SELECT c.*, json_type(e.properties, ${p}) AS vtype, coalesce(json_extract_string(e.properties, ${p}), '') AS vtext
  FROM counted c LEFT JOIN events e ON e.seq = ${seq} AND ${DAYS_1_2('e')})`
}

/** Per step: users, and the sum and median (µs) of the time from the step before. */
function stepColumns(K: number): string {
  const cols = ['count(*) AS users1']
  for (let k = 2; k <= K; k++)
    cols.push(
      `count(*) FILTER (WHERE reached >= ${k}) AS users${k}`,
      `sum(t${k} - t${k - 1})::HUGEINT AS sum${k}`,
      `median(t${k} - t${k - 1})::DOUBLE AS median${k}`,
    )
  return cols.join(', ')
}

/** The whole funnel's SQL: one row of step columns, or with a breakdown one per part and value. */
export function funnelSql(
  spec: FunnelSpec,
  range: DayRange,
  segments: readonly Segment[],
  paths: PropertyPaths,
): FunnelSql {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to + Math.ceil(spec.windowUs / 86_400_000_000))
  const head = countedSql(spec, range, segments, paths, params)
  const K = spec.steps.length
  if (!spec.breakdown)
    return {
      sql: `${head}\nSELECT 'all' AS part, ${stepColumns(K)} FROM counted`,
      values: params.values,
    }
  const limit = params.add(spec.breakdownLimit)
  // Values ranked by users at step 1, then type and text; past the limit
  // they are folded into 'other', whose times are those of all its users.
  const sql = `${head},
${valueSql(spec, paths, params)},
ranks AS (
  SELECT vtype, vtext, row_number() OVER (ORDER BY count(*) DESC, vtype, vtext) AS rk
  FROM valued WHERE vtype IS NOT NULL GROUP BY vtype, vtext),
parts AS (
  SELECT v.*, CASE WHEN v.vtype IS NULL THEN 'not_set' WHEN r.rk <= ${limit}::INTEGER THEN 'top' ELSE 'other' END AS part,
         CASE WHEN r.rk <= ${limit}::INTEGER THEN r.rk END AS grk
  FROM valued v LEFT JOIN ranks r USING (vtype, vtext))
SELECT CASE WHEN grouping(part) = 1 THEN 'all' ELSE part END AS part, grk AS rk,
       min(vtype) AS vtype, min(vtext) AS vtext, count(DISTINCT (vtype, vtext)) AS n_values, ${stepColumns(K)}
FROM parts GROUP BY GROUPING SETS ((), (part, grk))`
  return { sql, values: params.values }
}
