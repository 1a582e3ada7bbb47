import pg from 'pg'
import type { Logger } from '../logger.ts'
import type { NormalizedEvent } from '../events/event-schema.ts'
import type { EventStore } from './event-store.ts'
import type { SqlClient } from './sql-client.ts'

export interface PostgresOptions {
  url: string
  poolSize: number
  queryTimeoutMs: number
}

export function createPool(options: PostgresOptions, log: Logger): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: 5_000,
    query_timeout: options.queryTimeoutMs,
    application_name: 'event-analytics',
  })
  // An idle connection dropped by the server (restart, failover) must not crash
  // the process: the pool discards it and the next query opens a new one.
  pool.on('error', (err) => log.warn({ err: err.message }, 'idle PostgreSQL connection lost'))
  return pool
}

// One statement per batch: the arrays become rows server-side. Sorting by
// event_id makes concurrent writers lock keys in the same order, so two batches
// that share ids wait for each other instead of deadlocking. ON CONFLICT lets
// the unique key decide between racing writers: no check-then-insert window.
const INSERT_BATCH = `
INSERT INTO events (event_id, occurred_at, user_id, event_type, properties)
SELECT event_id, occurred_at, user_id, event_type, properties
FROM unnest($1::uuid[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[])
  AS batch(event_id, occurred_at, user_id, event_type, properties)
ORDER BY event_id
ON CONFLICT (event_id) DO NOTHING`

/** The event store on PostgreSQL's SQL: a server through a pool, or PGlite embedded. */
export class PostgresEventStore implements EventStore {
  constructor(private readonly db: SqlClient) {}

  async insert(events: readonly NormalizedEvent[]): Promise<number> {
    if (events.length === 0) return 0
    const ids: string[] = []
    const times: string[] = []
    const users: string[] = []
    const types: string[] = []
    const props: string[] = []
    // Within one batch the first version of an id wins, as it does across batches.
    const seen = new Set<string>()
    for (const e of events) {
      if (seen.has(e.event_id)) continue
      seen.add(e.event_id)
      ids.push(e.event_id)
      times.push(e.occurred_at)
      users.push(e.user_id)
      types.push(e.event_type)
      props.push(JSON.stringify(e.properties))
    }
    const result = await this.db.query(INSERT_BATCH, [ids, times, users, types, props])
    return result.rowCount
  }

  async existingIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const result = await this.db.query<{ event_id: string }>(
      'SELECT event_id FROM events WHERE event_id = ANY($1::uuid[])',
      [ids],
    )
    return new Set(result.rows.map((r) => r.event_id))
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1')
  }

  async close(): Promise<void> {
    await this.db.end()
  }
}
