import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import type { BenchEvent } from './dataset.ts'
import { perSecond } from './stats.ts'

// What the bare database can take, for the service's figures to be read as a
// ratio. The rows are prepared before the clock starts: this measures
// PostgreSQL, not the benchmark's own formatting.

const UNNEST_BATCH = 1000
const UNNEST_CONNECTIONS = 4
const COPY_CHUNK_ROWS = 5000
/** holds the data set exactly as generated, so it doubles as the reference for what the service stored */
export const UNNEST_TABLE = 'events_baseline_unnest'

export interface BaselineResult {
  rows: number
  ms: number
  rowsPerSecond: number
}

/** The service's own insert statement (the store's INSERT_BATCH) on another table, over 4 connections. */
export async function unnestBaseline(databaseUrl: string, events: readonly BenchEvent[]): Promise<BaselineResult> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: UNNEST_CONNECTIONS })
  try {
    const table = UNNEST_TABLE
    await createTableLikeEvents(pool, table)
    const batches = toColumnBatches(events, UNNEST_BATCH)
    const sql = `
      INSERT INTO ${table} (event_id, occurred_at, user_id, event_type, properties)
      SELECT event_id, occurred_at, user_id, event_type, properties
      FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[])
        AS batch(event_id, occurred_at, user_id, event_type, properties)
      ORDER BY event_id
      ON CONFLICT (event_id) DO NOTHING`
    let next = 0
    const connection = async (): Promise<void> => {
      while (next < batches.length) await pool.query(sql, batches[next++])
    }
    const started = performance.now()
    await Promise.all(Array.from({ length: UNNEST_CONNECTIONS }, connection))
    const ms = performance.now() - started
    await assertRowCount(pool, table, events.length)
    return { rows: events.length, ms, rowsPerSecond: perSecond(events.length, ms) }
  } finally {
    await pool.end()
  }
}

/** A plain COPY FROM STDIN (text format) on one connection: the fastest way in. */
export async function copyBaseline(databaseUrl: string, events: readonly BenchEvent[]): Promise<BaselineResult> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 1 })
  const client = await pool.connect()
  try {
    const table = 'events_baseline_copy'
    await createTableLikeEvents(client, table)
    const chunks = toCopyChunks(events, COPY_CHUNK_ROWS)
    const started = performance.now()
    await pipeline(
      Readable.from(chunks),
      client.query(copyFrom(`COPY ${table} (event_id, occurred_at, user_id, event_type, properties) FROM STDIN`)),
    )
    const ms = performance.now() - started
    await assertRowCount(client, table, events.length)
    return { rows: events.length, ms, rowsPerSecond: perSecond(events.length, ms) }
  } finally {
    client.release()
    await pool.end()
  }
}

type Queryable = Pick<pg.Pool, 'query'>

/**
 * Same columns, defaults, keys and indexes as events. LIKE ... INCLUDING ALL
 * gives the copy its own identity sequence (checked here, since sharing one
 * would make both tables contend on it) and keeps the xact_id default.
 */
async function createTableLikeEvents(db: Queryable, table: string): Promise<void> {
  await db.query(`CREATE TABLE ${table} (LIKE events INCLUDING ALL)`)
  const shape = `
    SELECT string_agg(concat_ws('|', column_name, data_type, is_nullable, column_default, is_identity, identity_generation), ';' ORDER BY ordinal_position) AS columns,
           (SELECT count(*) FROM pg_indexes i WHERE i.tablename = $1) AS indexes,
           pg_get_serial_sequence($1, 'seq') AS sequence
    FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1`
  const [original, copy] = await Promise.all(['events', table].map(async (t) => (await db.query(shape, [t])).rows[0]))
  if (original.columns !== copy.columns || original.indexes !== copy.indexes || original.sequence === copy.sequence) {
    throw new Error(`${table} does not have the shape of events: ${JSON.stringify({ original, copy })}`)
  }
}

async function assertRowCount(db: Queryable, table: string, expected: number): Promise<void> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)
  const actual = Number(rows[0]!.n)
  if (actual !== expected) throw new Error(`baseline table ${table} holds ${actual} rows, expected ${expected}`)
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

function toCopyChunks(events: readonly BenchEvent[], rowsPerChunk: number): string[] {
  const chunks: string[] = []
  for (let i = 0; i < events.length; i += rowsPerChunk) {
    chunks.push(
      events
        .slice(i, i + rowsPerChunk)
        .map((e) => [e.event_id, e.occurred_at, e.user_id, e.event_type, JSON.stringify(e.properties)].map(copyText).join('\t') + '\n')
        .join(''),
    )
  }
  return chunks
}

/** COPY text format: backslash, tab, newline and carriage return must be escaped. */
function copyText(value: string): string {
  return value.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!)
}
