import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { DayRange } from './params.ts'
import type { PathsSpec } from './paths-params.ts'
import type { Paths } from './paths-schema.ts'
import { pathsSql } from './paths-sql.ts'
import type { Segment } from './segment.ts'

interface Row {
  part: 'edge' | 'node'
  rk: bigint
  step: number
  src: string
  dst: string | null
  users: bigint
  events: bigint | null
}

export async function paths(
  replica: DuckDbReplica,
  range: DayRange,
  spec: PathsSpec,
  segments: readonly Segment[],
): Promise<Paths> {
  const { sql, values } = pathsSql(spec, range, segments, replica.paths)
  const rows = (await replica.query<Row>(sql, values)).sort((a, b) => Number(a.rk - b.rk))
  return {
    nodes: rows
      .filter((r) => r.part === 'node')
      .map((r) => ({ step: r.step, name: r.src, users: Number(r.users) })),
    transitions: rows
      .filter((r) => r.part === 'edge')
      .map((r) => ({
        step: r.step,
        from: r.src,
        to: r.dst!,
        users: Number(r.users),
        events: Number(r.events),
      })),
  }
}
