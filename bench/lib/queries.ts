import type { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import type { Engine } from './engine.ts'
import { getJson } from './http.ts'
import type { PlainDuckDb } from './plain-duckdb.ts'
import type { StatsQuery } from './query-set.ts'
import { type Percentiles, timeRuns } from './stats.ts'

// Each /stats endpoint (query-set.ts), timed over HTTP, beside the same
// query functions run directly on the DuckDB replica (no HTTP, no JSON), beside
// plain SQL on one plain DuckDB table of the same events, and beside plain SQL
// on PostgreSQL. Both plain answers are checked against the endpoint's.

const HTTP_WARMUP = 5
const PG_WARMUP = 1
// Per query and engine; a query of milliseconds does its 50 runs well within it.
const BUDGET_MS = 60_000

export type { StatsQuery } from './query-set.ts'
export { statsQueries } from './query-set.ts'

export interface QueryTiming {
  name: string
  path: string
  http: Percentiles
  duckdb: Percentiles
  /** plain SQL on the plain DuckDB table */
  plainDuckdb: Percentiles
  postgres: Percentiles
  /** the endpoint's answer equals the plain-DuckDB one */
  samePlainDuckdbAnswer: boolean
  /** the endpoint's answer equals the plain-SQL one on PostgreSQL */
  sameAnswer: boolean
}

/** Every query over HTTP; the last answer of each is kept to compare with the plain ones. */
export async function timeHttp(
  baseUrl: string,
  queries: readonly StatsQuery[],
  runs: number,
): Promise<Array<{ http: Percentiles; answer: unknown }>> {
  const out = []
  for (const q of queries) {
    let answer: unknown
    const http = await timeRuns(
      runs,
      HTTP_WARMUP,
      async () => (answer = await getJson(baseUrl, q.path)),
      BUDGET_MS,
    )
    out.push({ http, answer })
  }
  return out
}

/**
 * Asks the queries in turn, one at a time, for as long as `running()` holds
 * when the next one is due; each latency goes to `samples[i]` as it is taken
 * (pass them in to watch them grow). A query started while running counts.
 */
export async function timeInTurn(
  baseUrl: string,
  queries: readonly StatsQuery[],
  running: () => boolean,
  samples: number[][] = queries.map(() => []),
): Promise<number[][]> {
  for (let i = 0; running(); i = (i + 1) % queries.length) {
    const t = performance.now()
    await getJson(baseUrl, queries[i]!.path)
    samples[i]!.push(performance.now() - t)
  }
  return samples
}

export async function timeDuckDb(
  replica: DuckDbReplica,
  queries: readonly StatsQuery[],
  runs: number,
): Promise<Percentiles[]> {
  const out = []
  for (const q of queries)
    out.push(await timeRuns(runs, HTTP_WARMUP, () => q.duck(replica), BUDGET_MS))
  return out
}

/** The answers agree when both reduce to the same JSON. */
export function sameAnswer(
  q: StatsQuery,
  httpAnswer: unknown,
  rows: Array<Record<string, unknown>>,
): boolean {
  return JSON.stringify(q.comparable(httpAnswer)) === JSON.stringify(q.normalize(rows))
}

export async function timePlainDuckDb(
  plain: PlainDuckDb,
  queries: readonly StatsQuery[],
  runs: number,
  httpAnswers: readonly unknown[],
): Promise<Array<{ plainDuckdb: Percentiles; samePlainDuckdbAnswer: boolean }>> {
  const out = []
  for (const [i, q] of queries.entries()) {
    let rows: Array<Record<string, unknown>> = []
    const plainDuckdb = await timeRuns(
      runs,
      HTTP_WARMUP,
      async () => (rows = await plain.query(q.plain.duckdb, q.values)),
      BUDGET_MS,
    )
    out.push({ plainDuckdb, samePlainDuckdbAnswer: sameAnswer(q, httpAnswers[i], rows) })
  }
  return out
}

export async function timePostgres(
  engine: Engine,
  queries: readonly StatsQuery[],
  runs: number,
  httpAnswers: readonly unknown[],
  onQuery: (name: string, p: Percentiles) => void,
): Promise<Array<{ postgres: Percentiles; sameAnswer: boolean }>> {
  // Fresh rows may not have been analysed by autovacuum yet; without statistics
  // the planner picks nested loops that make retention take a minute at 100k
  // events. A production table would have them, so the comparison gets them too.
  await engine.query('ANALYZE events')
  const out = []
  for (const [i, q] of queries.entries()) {
    let rows: Array<Record<string, unknown>> = []
    const postgres = await timeRuns(
      runs,
      PG_WARMUP,
      async () => (rows = await engine.query(q.plain.postgres, q.values)),
    )
    onQuery(q.name, postgres)
    out.push({ postgres, sameAnswer: sameAnswer(q, httpAnswers[i], rows) })
  }
  return out
}
