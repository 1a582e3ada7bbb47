import { NUMBER_TYPES, type PropertyPaths } from '../analytics/property-paths.ts'
import type { Segment } from './segment.ts'
import { DAYS_1_2, filteredEvents, fromJson, type SqlParams } from './segment-sql.ts'

// The web figures are built from visits: a visitor's (user_key's) kept events
// with no gap over VISIT_GAP between one and the next. Visits are formed from
// the events in the range that the filters keep, nothing before `from` or
// after `to`, so a visit crossing midnight inside the range is one visit and
// one crossing a range edge is cut there. user_key, never user_id: a merge of
// identities re-keys a user, and the merged user's events then form visits
// together.

export const RANGE = DAYS_1_2
export const PAGE_VIEW = 'page_view'
/** Page views as our script and Segment's page calls name them, and as posthog-js does. */
export const PAGE_VIEW_TYPES = [PAGE_VIEW, '$pageview'] as const
/** Whether the event in `column` is a page view, as SQL. */
export const isPageView = (column: string) =>
  `${column} IN (${PAGE_VIEW_TYPES.map((t) => `'${t}'`).join(', ')})`
/** The longest gap between two events of one visit; a longer one starts a new visit. */
export const VISIT_GAP_MINUTES = 30

/**
 * The rows (seq, value) of page views in the range carrying `property` as a
 * string or a number, or undefined when no event has it. Reads its typed rows
 * of event_props (paths with 100k+ values, like path, are read fast there);
 * past MAX_PROPERTY_PATHS, from the raw JSON.
 */
export function viewValues(
  property: string,
  paths: PropertyPaths,
  params: SqlParams,
): string | undefined {
  const path = `$."${property}"`
  const id = paths.get(path)
  if (id !== undefined)
    return `SELECT p.seq, p.user_key, p.text AS value FROM event_props p
      WHERE p.path_id = ${params.add(id)} AND ${RANGE('p')} AND ${isPageView('p.event_type')}
        AND (p.type = 'VARCHAR' OR p.type IN ${NUMBER_TYPES})`
  if (paths.complete) return undefined
  const json = fromJson(path, params, 'x')
  return `SELECT x.seq, x.user_key, ${json.text} AS value FROM events x
    WHERE ${RANGE('x')} AND ${isPageView('x.event_type')} AND (${json.type} = 'VARCHAR' OR ${json.type} IN ${NUMBER_TYPES})`
}

/** The seqs of the range's events the filters keep, or undefined when there are no filters. */
export function keptSeqs(
  segments: readonly Segment[],
  paths: PropertyPaths,
  params: SqlParams,
): string | undefined {
  if (segments.length === 0) return undefined
  const f = filteredEvents(segments, paths, params, RANGE)
  return `SELECT e.seq FROM ${f.from} WHERE ${RANGE('e')} AND ${f.where}`
}

/**
 * CTEs `kept` (the range's kept events: seq, user_key, occurred_at, is_view,
 * `value` when `values` is given, and `event_type` when asked for; of the
 * `users` only, when given) and
 * `visited` (the same with `visit`, the visit's number within its user). Both
 * windows share one partition and order; seq breaks ties in time so the
 * numbering is stable.
 */
export function visitsCtes(
  seqs: string | undefined,
  values?: string,
  { eventType = false, users }: { eventType?: boolean; users?: string } = {},
): string {
  // users: a subquery of user_keys; a visit is one user's, so keeping only
  // some users' events leaves their visits whole.
  const narrowed =
    (seqs === undefined ? '' : `AND x.seq IN (${seqs})`) +
    (users === undefined ? '' : ` AND x.user_key IN (${users})`)
  const join = values === undefined ? '' : `LEFT JOIN (${values}) v ON v.seq = x.seq`
  const value = values === undefined ? '' : ', v.value'
  const type = eventType ? ', x.event_type' : ''
  return `kept AS (
  SELECT x.seq, x.user_key, x.occurred_at, ${isPageView('x.event_type')} AS is_view${value}${type}
  FROM events x ${join}
  WHERE ${RANGE('x')} ${narrowed}
),
gaps AS (
  SELECT *, coalesce(occurred_at - lag(occurred_at) OVER (PARTITION BY user_key ORDER BY occurred_at, seq)
                     > INTERVAL ${VISIT_GAP_MINUTES} MINUTE, TRUE) AS starts
  FROM kept
),
visited AS MATERIALIZED (
  SELECT *, sum(starts::INTEGER) OVER (PARTITION BY user_key ORDER BY occurred_at, seq ROWS UNBOUNDED PRECEDING) AS visit
  FROM gaps
)`
}

/**
 * One row per visit: its user, start and end, events and page views, and
 * (with `edge`) the value of its first or last page view carrying one, by
 * time and then by value, so ties at one instant are settled the same way by
 * every reader.
 */
export function perVisitCte(edge?: 'entry' | 'exit'): string {
  const fn = edge === 'exit' ? 'arg_max' : 'arg_min'
  const value =
    edge === undefined
      ? ''
      : `, ${fn}(value, {t: occurred_at, v: value}) FILTER (WHERE is_view AND value IS NOT NULL) AS value`
  return `per_visit AS (
  SELECT user_key, visit, min(occurred_at) AS started, count(*) AS events,
         count(*) FILTER (WHERE is_view) AS views,
         epoch_us(max(occurred_at)) - epoch_us(min(occurred_at)) AS duration_us${value}
  FROM visited GROUP BY user_key, visit
)`
}

/**
 * CTE `marked`: the range's kept events (seq, user_key, occurred_at,
 * is_view), each with the time of its user's previous event (`prev`) and
 * whether it starts or ends a visit, from one window pass (lag and lead share
 * its sort). Enough for figures that sum over visits without naming them:
 * visits are the starts, a bounce a page view that starts and ends one, and
 * the durations sum to the gaps inside visits.
 */
export function markedCtes(seqs: string | undefined): string {
  const narrowed = seqs === undefined ? '' : `AND x.seq IN (${seqs})`
  return `kept AS (
  SELECT x.seq, x.user_key, x.occurred_at, ${isPageView('x.event_type')} AS is_view
  FROM events x WHERE ${RANGE('x')} ${narrowed}
),
neighbours AS (
  SELECT *, lag(occurred_at) OVER w AS prev, lead(occurred_at) OVER w AS next
  FROM kept WINDOW w AS (PARTITION BY user_key ORDER BY occurred_at, seq)
),
marked AS (
  SELECT *, coalesce(occurred_at - prev > INTERVAL ${VISIT_GAP_MINUTES} MINUTE, TRUE) AS starts,
            coalesce(next - occurred_at > INTERVAL ${VISIT_GAP_MINUTES} MINUTE, TRUE) AS ends
  FROM neighbours
)`
}

/** A visit is a bounce when it is one event, a page view (see the README, Web analytics). */
export const BOUNCE = 'events = 1 AND views = 1'
