import { randomUUID } from 'node:crypto'
import type { BenchEvent } from './dataset.ts'
import type { Engine } from './engine.ts'
import { type Percentiles, perSecond, summarize } from './stats.ts'

// What the bare engine can take, for the service's figures to be read as a
// ratio. The rows are prepared before the clock starts: this measures the
// database, not the benchmark's own formatting. Run after the service has
// stopped, so nothing competes with it.

export const EVENT_COLUMNS = [
  'event_id',
  'occurred_at',
  'user_id',
  'event_type',
  'properties',
] as const
/** holds the data set exactly as generated, so it doubles as the reference for what the service stored */
export const COPY_TABLE = 'events_baseline_copy'
const UNNEST_TABLE = 'events_baseline_unnest'
const SINGLE_TABLE = 'events_baseline_single'
/** every table the baselines create, for a reused database to be left as it was found */
export const BASELINE_TABLES = [COPY_TABLE, UNNEST_TABLE, SINGLE_TABLE]
const COPY_CHUNK_ROWS = 5000

export interface BaselineResult {
  rows: number
  ms: number
  rowsPerSecond: number
}

export interface UnnestResult extends BaselineResult {
  /** per statement, each inserting one request's worth of rows */
  latencyMs: Percentiles
  connections: number
}

/** A plain COPY (text format) on one connection: the fastest way in. Leaves the rows in COPY_TABLE. */
export async function copyBaseline(
  engine: Engine,
  events: readonly BenchEvent[],
): Promise<BaselineResult> {
  await createTableLikeEvents(engine, COPY_TABLE)
  const chunks = toCopyChunks(events)
  const started = performance.now()
  await engine.copyIn(COPY_TABLE, EVENT_COLUMNS, chunks)
  const ms = performance.now() - started
  await assertRowCount(engine, COPY_TABLE, events.length)
  return { rows: events.length, ms, rowsPerSecond: perSecond(events.length, ms) }
}

/**
 * The service's own insert statement (the store's INSERT_BATCH), one request's
 * batch per statement, from as many connections as there are HTTP clients: the
 * raw counterpart of a request's latency.
 */
export async function unnestBaseline(
  engine: Engine,
  events: readonly BenchEvent[],
  batchSize: number,
  concurrency: number,
): Promise<UnnestResult> {
  await createTableLikeEvents(engine, UNNEST_TABLE)
  const batches = toColumnBatches(events, batchSize)
  const sql = `
    INSERT INTO ${UNNEST_TABLE} (event_id, occurred_at, user_id, event_type, properties)
    SELECT event_id, occurred_at, user_id, event_type, properties
    FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[])
      AS batch(event_id, occurred_at, user_id, event_type, properties)
    ORDER BY event_id
    ON CONFLICT (event_id, project_id) DO NOTHING`
  const latencies: number[] = []
  let next = 0
  const connection = async (): Promise<void> => {
    while (next < batches.length) {
      const batch = batches[next++]!
      const sent = performance.now()
      await engine.query(sql, batch)
      latencies.push(performance.now() - sent)
    }
  }
  const connections = Math.min(concurrency, engine.connections)
  const started = performance.now()
  await Promise.all(Array.from({ length: connections }, connection))
  const ms = performance.now() - started
  await assertRowCount(engine, UNNEST_TABLE, events.length)
  return {
    rows: events.length,
    ms,
    rowsPerSecond: perSecond(events.length, ms),
    latencyMs: summarize(latencies),
    connections,
  }
}

/**
 * The raw counterpart of freshness: a one-row INSERT, which every later query
 * sees once it has committed. Into a table of its own, not the reference one.
 */
export async function singleInsertLatency(engine: Engine, samples: number): Promise<Percentiles> {
  await createTableLikeEvents(engine, SINGLE_TABLE)
  const latencies: number[] = []
  for (let i = 0; i < samples; i++) {
    const started = performance.now()
    await engine.query(
      `INSERT INTO ${SINGLE_TABLE} (event_id, occurred_at, user_id, event_type, properties) VALUES ($1, now(), 'fresh', 'bench_freshness', '{}')`,
      [randomUUID()],
    )
    latencies.push(performance.now() - started)
  }
  return summarize(latencies)
}

/**
 * Same columns, defaults and indexes as events, in one plain table with the
 * unique key a plain design puts on the id: the service's events is
 * partitioned by project and month (migration 011) and keeps that key in
 * event_keys, which a plain COPY does not pay for. LIKE ... INCLUDING ALL
 * gives the copy its own identity sequence (checked here, since sharing one
 * would make both tables contend on it) and keeps the xact_id default.
 */
export async function createTableLikeEvents(engine: Engine, table: string): Promise<void> {
  // A reused database (--database) may keep one from a run that was interrupted.
  await engine.query(`DROP TABLE IF EXISTS ${table}`)
  await engine.query(`CREATE TABLE ${table} (LIKE events INCLUDING ALL)`)
  await engine.query(`ALTER TABLE ${table} ADD PRIMARY KEY (event_id, project_id)`)
  const shape = `
    SELECT string_agg(concat_ws('|', column_name, data_type, is_nullable, column_default, is_identity, identity_generation), ';' ORDER BY ordinal_position) AS columns,
           (SELECT count(*) FROM pg_indexes i WHERE i.tablename = $1) AS indexes,
           pg_get_serial_sequence($1, 'seq') AS sequence
    FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`
  type Shape = { columns: string; indexes: string | number; sequence: string }
  const [original, copy] = await Promise.all(
    ['events', table].map(async (t) => (await engine.query<Shape>(shape, [t]))[0]!),
  )
  if (
    original!.columns !== copy!.columns ||
    Number(original!.indexes) + 1 !== Number(copy!.indexes) ||
    original!.sequence === copy!.sequence
  ) {
    throw new Error(
      `${table} does not have the shape of events: ${JSON.stringify({ original, copy })}`,
    )
  }
}

async function assertRowCount(engine: Engine, table: string, expected: number): Promise<void> {
  const [row] = await engine.query<{ n: string | number }>(`SELECT count(*) AS n FROM ${table}`)
  const actual = Number(row!.n)
  if (actual !== expected)
    throw new Error(`baseline table ${table} holds ${actual} rows, expected ${expected}`)
}

function toColumnBatches(events: readonly BenchEvent[], size: number): string[][][] {
  const batches: string[][][] = []
  for (let i = 0; i < events.length; i += size) {
    const batch = events.slice(i, i + size)
    batches.push([
      batch.map((e) => e.event_id),
      batch.map((e) => e.occurred_at),
      batch.map((e) => e.user_id),
      batch.map((e) => e.event_type),
      batch.map((e) => JSON.stringify(e.properties)),
    ])
  }
  return batches
}

/** COPY text lines for EVENT_COLUMNS, in chunks of a few thousand rows. */
export function toCopyChunks(events: readonly BenchEvent[]): string[] {
  const chunks: string[] = []
  for (let i = 0; i < events.length; i += COPY_CHUNK_ROWS) {
    chunks.push(
      events
        .slice(i, i + COPY_CHUNK_ROWS)
        .map(
          (e) =>
            `${[e.event_id, e.occurred_at, e.user_id, e.event_type, JSON.stringify(e.properties)]
              .map(copyText)
              .join('\t')}\n`,
        )
        .join(''),
    )
  }
  return chunks
}

/** COPY text format: backslash, tab, newline and carriage return must be escaped. */
function copyText(value: string): string {
  return value.replace(
    /[\\\t\n\r]/g,
    (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!,
  )
}
