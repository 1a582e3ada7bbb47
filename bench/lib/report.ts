import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BaselineResult, UnnestResult } from './baseline.ts'
import type { CheckResult } from './check.ts'
import type { CpuBreakdown } from './cpu-probe.ts'
import type { DatasetKind } from './dataset.ts'
import type { IngestResult } from './ingest.ts'
import type { Machine } from './machine.ts'
import type { Mode } from './options.ts'
import type { DatasetShape } from './plain-duckdb.ts'
import type { QueryTiming } from './queries.ts'
import type { ReadsUnderLoadResult } from './reads-under-load.ts'
import type { IdVersion } from './realistic.ts'
import type { ProcessUsage } from './service.ts'
import type { SoakResult } from './soak.ts'
import type { Percentiles } from './stats.ts'

export interface BenchReport {
  startedAt: string
  /** digest of src/ when the run started: two runs compare only if they measured the same code */
  serviceSource: string
  machine: Machine
  settings: {
    dataset: DatasetKind
    ids: IdVersion
    events: number
    users: number
    days: number
    batch: number
    concurrency: number
    mode: Mode
    workers: number
    runs: number
    pgRuns: number
    seedSql: boolean
    soakSeconds: number
    readsUnderLoad: boolean
    loadEvents: number
    loadRuns: number
    serviceEnv: Record<string, string>
    /** --projects K, when above 1 */
    projects?: number
  }
  /** which events, and their shape as measured on the plain DuckDB table (absent with --soak) */
  dataset?: { kind: DatasetKind; ids: IdVersion; shape: DatasetShape }
  /** the last day of the data set (UTC); every query range ends with it */
  lastDay: string
  /** absent with --seed-sql and --soak */
  ingest?: IngestResult & {
    raw: { copy: BaselineResult; unnest: UnnestResult }
  }
  /** --seed-sql and --reads-under-load: how the data got there, and how long the service took to build its replica from it */
  seed?: {
    events: number
    seededMs: number | undefined
    replicaBuildMs: number
    replicaRowsPerSecond: number
    cpu: CpuBreakdown
  }
  freshness?: { ms: Percentiles; raw: Percentiles; markers: number }
  queries?: QueryTiming[]
  /** --projects K above 1: each project's data, queries and check, in place of dataset and queries (correctness sums them up) */
  projects?: ProjectReport[]
  soak?: SoakResult
  /** --reads-under-load: every query idle and while events are posted at full speed */
  readsUnderLoad?: ReadsUnderLoadResult
  /** ms from spawning the service until /health answered; embedded mode also restarts it on the full data */
  startup: { firstMs: number; restartMs?: number }
  processes: ProcessUsage[]
  /** this process: the load generator, and DuckDB when it runs the queries directly */
  benchPeakRssMb: number
  correctness: CheckResult & { answers: string[] }
  ratios: Ratios
}

/** One project of a --projects run: its events, every query asked of it alone, and its own exactly-once check. */
export interface ProjectReport {
  id: number
  name: string
  /** events seeded into it (the default project also holds the freshness markers) */
  seeded: number
  /** its users are user-(1 + userOffset) … user-(users + userOffset) */
  users: number
  userOffset: number
  /** the last day with its events (UTC); its queries' ranges end with it */
  lastDay: string
  dataset: { kind: DatasetKind; ids: IdVersion; shape: DatasetShape }
  queries: QueryTiming[]
  ratios: QueryRatio[]
  /** store: its events in PostgreSQL; replica: its schema in the replica file */
  correctness: CheckResult & { answers: string[]; ok: boolean }
}

export interface QueryRatio {
  name: string
  /** ours (HTTP) / plain SQL on the plain DuckDB table: above 1, the service is slower than no design at all */
  plainDuckdb: { p50: number; p95: number; p99: number }
  duckdb: { p50: number; p95: number; p99: number }
  postgres: { p50: number }
}

/** ours / the raw engine's, for every line of the tables. */
export interface Ratios {
  ingest?: {
    accepted: number
    stored: number
    queryable: number
    latencyP50: number
    latencyP99: number
  }
  freshness?: { p50: number; p99: number }
  queries?: QueryRatio[]
}

// Three significant digits: at 10M events some are 0.0001, which two decimals would make 0.
const ratio = (ours: number, raw: number) => Number((ours / raw).toPrecision(3))

export function ratiosOf(r: Omit<BenchReport, 'ratios'>): Ratios {
  // Rates (events/s) below 1 and times (ms) above 1 both mean the service is slower than the raw engine.
  const ingest = r.ingest && {
    accepted: ratio(r.ingest.acceptedEventsPerSecond, r.ingest.raw.copy.rowsPerSecond),
    stored: ratio(r.ingest.storedEventsPerSecond, r.ingest.raw.copy.rowsPerSecond),
    queryable: ratio(r.ingest.queryableEventsPerSecond, r.ingest.raw.copy.rowsPerSecond),
    latencyP50: ratio(r.ingest.latencyMs.p50, r.ingest.raw.unnest.latencyMs.p50),
    latencyP99: ratio(r.ingest.latencyMs.p99, r.ingest.raw.unnest.latencyMs.p99),
  }
  const freshness = r.freshness && {
    p50: ratio(r.freshness.ms.p50, r.freshness.raw.p50),
    p99: ratio(r.freshness.ms.p99, r.freshness.raw.p99),
  }
  const queries = r.queries && queryRatios(r.queries)
  return {
    ...(ingest ? { ingest } : {}),
    ...(freshness ? { freshness } : {}),
    ...(queries ? { queries } : {}),
  }
}

export function queryRatios(queries: readonly QueryTiming[]): QueryRatio[] {
  return queries.map((q) => ({
    name: q.name,
    plainDuckdb: {
      p50: ratio(q.http.p50, q.plainDuckdb.p50),
      p95: ratio(q.http.p95, q.plainDuckdb.p95),
      p99: ratio(q.http.p99, q.plainDuckdb.p99),
    },
    duckdb: {
      p50: ratio(q.http.p50, q.duckdb.p50),
      p95: ratio(q.http.p95, q.duckdb.p95),
      p99: ratio(q.http.p99, q.duckdb.p99),
    },
    postgres: { p50: ratio(q.http.p50, q.postgres.p50) },
  }))
}

/** Writes <name>-<timestamp>.json and .md into `dir`; returns both paths. */
export async function saveReport(
  dir: string,
  report: { startedAt: string },
  markdown: string,
  name = 'bench',
): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const base = join(dir, `${name}-${report.startedAt.replace(/[:.]/g, '-')}`)
  await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(`${base}.md`, markdown)
  return [`${base}.json`, `${base}.md`]
}
