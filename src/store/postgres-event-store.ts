import pg from 'pg'
import type { NormalizedEvent, ProjectEvent } from '../events/event-schema.ts'
import type { ImportBatch } from '../import/import-csv.ts'
import type { Logger } from '../logger.ts'
import { CopyBatch, copyBinary, FRAME } from './copy-batch.ts'
import { type CopyData, CopyInserter, INSERT_KEYED, socketOf } from './copy-insert.ts'
import { decodeCopyRows } from './copy-rows.ts'
import { EventPartitions, partitionKeysOf } from './event-partitions.ts'
import type { CopyEventStore } from './event-store.ts'
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

// One statement per batch: the arrays become rows server-side (INSERT_KEYED).
const INSERT_BATCH = INSERT_KEYED(
  `unnest($1::uuid[], $6::int[], $2::timestamptz[], $3::text[], $4::text[], $5::jsonb[])
    AS b(event_id, project_id, occurred_at, user_id, event_type, properties)`,
  true,
)

/** The event store on PostgreSQL's SQL: a server through a pool, or PGlite embedded. */
export class PostgresEventStore implements CopyEventStore {
  private readonly inserter: CopyInserter
  private readonly partitions: EventPartitions

  /** `retentionDays`: the service's RETENTION_DAYS, which decides how events are partitioned (migration 011). */
  constructor(
    private readonly db: SqlClient,
    { retentionDays = null }: { retentionDays?: number | null } = {},
  ) {
    this.partitions = new EventPartitions(retentionDays)
    this.inserter = new CopyInserter({
      notify: true,
      timeoutMs: db.queryTimeoutMs ?? 30_000,
      partitions: this.partitions,
    })
  }

  get copies(): boolean {
    return this.db.connect !== undefined
  }

  async insertCopy(copy: CopyData): Promise<number> {
    if (copy.rows === 0) return 0
    if (!this.db.connect) {
      // PGlite reads no COPY from a client: the same rows through insert().
      return this.insert(
        decodeCopyRows(copy.data.subarray(FRAME.header, copy.data.length - FRAME.trailer)),
      )
    }
    const client = await this.db.connect()
    try {
      const inserted = await this.inserter.insert(client, copy)
      client.release()
      return inserted
    } catch (err) {
      // Whatever state the connection is in (a COPY cut short, a lost socket), it is not reused.
      client.release(err as Error)
      throw err
    }
  }

  async insert(events: readonly ProjectEvent[]): Promise<number> {
    if (events.length === 0) return 0
    await this.partitions.ensure(this.db, partitionKeysOf(events))
    const ids: string[] = []
    const projects: number[] = []
    const times: string[] = []
    const users: string[] = []
    const types: string[] = []
    const props: string[] = []
    // Within one batch the first version of an id wins, as it does across batches.
    const seen = new Set<string>()
    for (const e of events) {
      const key = `${e.event_id}/${e.project_id}`
      if (seen.has(key)) continue
      seen.add(key)
      ids.push(e.event_id)
      projects.push(e.project_id)
      times.push(e.occurred_at)
      users.push(e.user_id)
      types.push(e.event_type)
      props.push(JSON.stringify(e.properties))
    }
    const result = await this.db.query<{ inserted: number }>(INSERT_BATCH, [
      ids,
      times,
      users,
      types,
      props,
      projects,
    ])
    return result.rows[0]!.inserted
  }

  async existingIds(ids: readonly string[], project: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    // Validated uuids need no quoting: one array literal, rather than the
    // driver escaping each of a thousand elements.
    const result = await this.db.query<{ event_id: string }>(
      'SELECT event_id FROM event_keys WHERE project_id = $2 AND event_id = ANY($1::uuid[])',
      [`{${ids.join(',')}}`, project],
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

/** Inserts one project's events like PostgresEventStore.insert, through COPY on a connection of its own. */
export class PostgresBulkLoader {
  private readonly inserter: CopyInserter

  private constructor(
    private readonly client: pg.Client,
    queryTimeoutMs: number,
    private readonly project: number,
    retentionDays: number | null,
  ) {
    // The import's rows are picked up by the service's poll: it runs in another process.
    this.inserter = new CopyInserter({
      notify: false,
      timeoutMs: queryTimeoutMs,
      partitions: new EventPartitions(retentionDays),
    })
  }

  static async connect(
    options: Omit<PostgresOptions, 'poolSize'> & { retentionDays?: number | null },
    project: number,
    log: Logger,
  ): Promise<PostgresBulkLoader> {
    const client = new pg.Client({
      connectionString: options.url,
      connectionTimeoutMillis: 5_000,
      query_timeout: options.queryTimeoutMs,
      application_name: 'event-analytics-import',
    })
    // A dropped connection fails the next query; unhandled, it would crash the process first.
    client.on('error', (err) => log.warn({ err: err.message }, 'import connection lost'))
    await client.connect()
    // Without it each COPY's last packet and the COMMIT after it can wait ~40 ms
    // for a delayed ACK (Nagle), once per batch.
    socketOf(client).setNoDelay(true)
    return new PostgresBulkLoader(
      client,
      options.queryTimeoutMs,
      project,
      options.retentionDays ?? null,
    )
  }

  /** `propertiesJson[i]`, when given, is `JSON.stringify(events[i].properties)`, already done by validation. */
  async insert(
    events: readonly NormalizedEvent[],
    propertiesJson?: readonly string[],
  ): Promise<number> {
    return this.inserter.insert(this.client, copyBinary(events, this.project, propertiesJson))
  }

  /** A batch that holds its rows as COPY data as they are added; store() inserts it like insert(). */
  newBatch(): ImportBatch {
    const batch = new CopyBatch()
    return {
      get size() {
        return batch.size
      },
      add: (events, propertiesJson) => batch.add(events, this.project, propertiesJson),
      store: () => this.inserter.insert(this.client, batch.finish()),
    }
  }

  async close(): Promise<void> {
    await this.client.end()
  }
}
