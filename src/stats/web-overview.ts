import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { DayRange } from './params.ts'
import type { Segment } from './segment.ts'
import { SqlParams } from './segment-sql.ts'
import { visitFigures } from './web-figures.ts'
import type { WebInterval, WebOverview } from './web-schemas.ts'
import { BOUNCE, keptSeqs, perVisitCte, visitsCtes } from './web-visits-sql.ts'

export type WebInterval_ = 'day' | 'hour'

// One pass: the kept events sessionized once (visited, materialized), then
// per interval its visitors, page views and the visits starting in it, and
// the range's totals. Visitors are counted on user_key (see web-visits-sql.ts).
function overviewSql(seqs: string | undefined, interval: 'day' | 'hour'): string {
  const bucket = (column: string) =>
    interval === 'day' ? `${column}::DATE::TIMESTAMP` : `date_trunc('hour', ${column})`
  return `
WITH ${visitsCtes(seqs)},
${perVisitCte()},
buckets AS (
  SELECT ${bucket('occurred_at')} AS start, count(DISTINCT user_key) AS visitors,
         count(*) FILTER (WHERE is_view) AS views, 0 AS visits
  FROM visited GROUP BY 1
  UNION ALL
  SELECT ${bucket('started')}, 0, 0, count(*) FROM per_visit GROUP BY 1
)
SELECT 'interval' AS part, epoch_ms(start) AS start_ms, sum(visitors)::BIGINT AS visitors,
       sum(views)::BIGINT AS views, sum(visits)::BIGINT AS visits, 0::BIGINT AS bounces, 0::HUGEINT AS duration_us
FROM buckets GROUP BY start
UNION ALL
SELECT 'total', NULL, (SELECT count(DISTINCT user_key) FROM visited), coalesce(sum(views), 0)::BIGINT, count(*),
       count(*) FILTER (WHERE ${BOUNCE}), coalesce(sum(duration_us), 0)::HUGEINT
FROM per_visit`
}

interface Row {
  part: 'interval' | 'total'
  start_ms: bigint | null
  visitors: bigint
  views: bigint
  visits: bigint
  bounces: bigint
  duration_us: bigint
}

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

export async function webOverview(
  replica: DuckDbReplica,
  range: DayRange,
  interval: 'day' | 'hour',
  segments: readonly Segment[],
): Promise<WebOverview> {
  const params = new SqlParams()
  params.add(range.from)
  params.add(range.to)
  const seqs = keptSeqs(segments, replica.paths, params)
  const rows = await replica.query<Row>(overviewSql(seqs, interval), params.values)
  const total = rows.find((r) => r.part === 'total')!
  const byStart = new Map(
    rows.filter((r) => r.part === 'interval').map((r) => [Number(r.start_ms), r]),
  )
  const step = interval === 'day' ? DAY_MS : HOUR_MS
  const intervals: WebInterval[] = []
  for (let t = range.from * DAY_MS; t < (range.to + 1) * DAY_MS; t += step) {
    const r = byStart.get(t)
    const iso = new Date(t).toISOString()
    intervals.push({
      start: interval === 'day' ? iso.slice(0, 10) : `${iso.slice(0, 19)}Z`,
      visitors: r ? Number(r.visitors) : 0,
      page_views: r ? Number(r.views) : 0,
      visits: r ? Number(r.visits) : 0,
    })
  }
  const visits = Number(total.visits)
  const views = Number(total.views)
  return {
    interval,
    totals: {
      visitors: Number(total.visitors),
      page_views: views,
      visits,
      bounces: Number(total.bounces),
      ...visitFigures(visits, views, Number(total.bounces), total.duration_us),
    },
    intervals,
  }
}
