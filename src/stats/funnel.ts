import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { jsonValue } from './breakdown.ts'
import { retentionRate } from './cohort-cells.ts'
import type { FunnelSpec } from './funnel-params.ts'
import type { Funnel, FunnelStepRow } from './funnel-schema.ts'
import { funnelSql } from './funnel-sql.ts'
import type { DayRange } from './params.ts'
import type { Segment } from './segment.ts'

type Row = Record<string, unknown> & { part: string }

/** Times come back in microseconds; means are computed here from the exact sum. */
function stepsOf(spec: FunnelSpec, row: Row | undefined): FunnelStepRow[] {
  const users = (k: number) => Number(row?.[`users${k}`] ?? 0)
  const first = users(1)
  return spec.steps.map((step, i) => {
    const k = i + 1
    const n = users(k)
    const before = k === 1 ? n : users(k - 1)
    const sum = row?.[`sum${k}`]
    const median = row?.[`median${k}`]
    return {
      step: k,
      event_type: step.eventType,
      users: n,
      conversion_from_first: retentionRate(n, first),
      conversion_from_previous: retentionRate(n, before),
      drop_off: before - n,
      median_seconds: k === 1 || n === 0 || median == null ? null : Number(median) / 1e6,
      mean_seconds: k === 1 || n === 0 || sum == null ? null : Number(sum) / n / 1e6,
    }
  })
}

export async function funnel(
  replica: DuckDbReplica,
  range: DayRange,
  spec: FunnelSpec,
  segments: readonly Segment[],
): Promise<Funnel> {
  const { sql, values } = funnelSql(spec, range, segments, replica.paths)
  const rows = await replica.query<Row>(sql, values)
  const all = rows.find((r) => r.part === 'all')
  const answer: Funnel = {
    order: spec.order,
    window_seconds: spec.windowUs / 1e6,
    steps: stepsOf(spec, all),
  }
  if (!spec.breakdown) return answer
  const other = rows.find((r) => r.part === 'other')
  answer.breakdown = {
    by: spec.breakdown.text,
    step: spec.breakdown.step,
    values: rows
      .filter((r) => r.part === 'top')
      .sort((a, b) => Number(a.rk) - Number(b.rk))
      .map((r) => ({
        value: jsonValue(String(r.vtype), String(r.vtext)),
        steps: stepsOf(spec, r),
      })),
    other: { values: other ? Number(other.n_values) : 0, steps: stepsOf(spec, other) },
    not_set: {
      steps: stepsOf(
        spec,
        rows.find((r) => r.part === 'not_set'),
      ),
    },
  }
  return answer
}
