import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { DayRange } from './params.ts'
import type { Segment } from './segment.ts'
import { SqlParams } from './segment-sql.ts'
import { visitFigures } from './web-figures.ts'
import type { TopPageRow, VisitGroupRow } from './web-schemas.ts'
import { BOUNCE, keptSeqs, perVisitCte, viewValues, visitsCtes } from './web-visits-sql.ts'

// Visits grouped by a page-view property's value on their first (entry) or
// last (exit) page view carrying it: entry and exit pages (path), sources
// (referrer_host, utm_*) and technology (browser, os, device, country, ...).
const visitGroupsSql = (seqs: string | undefined, values: string, edge: 'entry' | 'exit') => `
WITH ${visitsCtes(seqs, values)},
${perVisitCte(edge)}
SELECT value, count(DISTINCT user_key)::BIGINT AS visitors, count(*)::BIGINT AS visits, sum(views)::BIGINT AS views,
       count(*) FILTER (WHERE ${BOUNCE})::BIGINT AS bounces, sum(duration_us)::HUGEINT AS duration_us
FROM per_visit WHERE value IS NOT NULL
GROUP BY value
ORDER BY visits DESC, visitors DESC, value
LIMIT $3::INTEGER`

interface GroupRow {
  value: string
  visitors: bigint
  visits: bigint
  views: bigint
  bounces: bigint
  duration_us: bigint
}

export async function visitGroups(
  replica: DuckDbReplica,
  range: DayRange,
  property: string,
  edge: 'entry' | 'exit',
  limit: number,
  segments: readonly Segment[],
): Promise<VisitGroupRow[]> {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to)
  params.add(limit)
  const values = viewValues(property, replica.paths, params)
  if (values === undefined) return [] // no event has the property
  const seqs = keptSeqs(segments, replica.paths, params)
  const rows = await replica.query<GroupRow>(visitGroupsSql(seqs, values, edge), params.values)
  return rows.map((r) => {
    const visits = Number(r.visits)
    const views = Number(r.views)
    const { bounce_rate, visit_duration } = visitFigures(
      visits,
      views,
      Number(r.bounces),
      r.duration_us,
    )
    return {
      value: r.value,
      visitors: Number(r.visitors),
      visits,
      page_views: views,
      bounce_rate,
      visit_duration,
    }
  })
}

// Top pages need no visits: page views per path from path's typed rows, read
// once (materialized). Counting distinct visitors is the costly part, so only
// for the paths that can make the top (those with at least the limit-th
// count), as breakdown.ts does: a path has 100k+ values.
const topPagesSql = (views: string, seqs: string | undefined) => `
WITH views AS MATERIALIZED (
  SELECT v.value, v.user_key FROM (${views}) v ${seqs === undefined ? '' : `WHERE v.seq IN (${seqs})`}
),
counts AS (SELECT value, count(*) AS views FROM views GROUP BY value),
contenders AS (
  SELECT value FROM counts
  WHERE views >= (SELECT coalesce(min(views), 0) FROM (SELECT views FROM counts ORDER BY views DESC LIMIT $3::INTEGER))
),
visitors AS (
  SELECT value, count(DISTINCT user_key) AS visitors FROM views SEMI JOIN contenders USING (value) GROUP BY value
)
SELECT value, views::BIGINT AS views, visitors::BIGINT AS visitors
FROM counts JOIN visitors USING (value)
ORDER BY views DESC, visitors DESC, value
LIMIT $3::INTEGER`

export async function topPages(
  replica: DuckDbReplica,
  range: DayRange,
  limit: number,
  segments: readonly Segment[],
): Promise<TopPageRow[]> {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to)
  params.add(limit)
  const views = viewValues('path', replica.paths, params)
  if (views === undefined) return []
  const seqs = keptSeqs(segments, replica.paths, params)
  const rows = await replica.query<{ value: string; views: bigint; visitors: bigint }>(
    topPagesSql(views, seqs),
    params.values,
  )
  return rows.map((r) => ({
    value: r.value,
    visitors: Number(r.visitors),
    page_views: Number(r.views),
  }))
}
