import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { DayRange } from './params.ts'
import type { Segment } from './segment.ts'
import { SqlParams } from './segment-sql.ts'
import { visitFigures } from './web-figures.ts'
import type { WebInterval, WebOverview } from './web-schemas.ts'
import { keptSeqs, markedCtes } from './web-visits-sql.ts'

// One window pass over the kept events (markedCtes): per interval its
// visitors, page views and the visits starting in it, and the range's totals
// (the empty grouping set), in one aggregate. No visit is numbered: a second
// window over every event would double the cost. Visitors are counted on
// user_key (see web-visits-sql.ts).
function overviewSql(seqs: string | undefined, interval: 'day' | 'hour'): string {
  const bucket =
    interval === 'day' ? 'occurred_at::DATE::TIMESTAMP' : `date_trunc('hour', occurred_at)`
  return `
WITH ${markedCtes(seqs)}
SELECT epoch_ms(bucket) AS start_ms, count(DISTINCT user_key) AS visitors,
       count(*) FILTER (WHERE is_view) AS views, count(*) FILTER (WHERE starts) AS visits,
       count(*) FILTER (WHERE starts AND ends AND is_view) AS bounces,
       coalesce(sum(CASE WHEN starts THEN 0 ELSE epoch_us(occurred_at) - epoch_us(prev) END), 0)::HUGEINT AS duration_us
FROM (SELECT *, ${bucket} AS bucket FROM marked)
GROUP BY GROUPING SETS ((bucket), ())`
}

interface Row {
  /** null on the totals' row */
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
  const none = { visitors: 0n, views: 0n, visits: 0n, bounces: 0n, duration_us: 0n }
  const total = rows.find((r) => r.start_ms === null) ?? none
  const byStart = new Map(
    rows.filter((r) => r.start_ms !== null).map((r) => [Number(r.start_ms), r]),
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
