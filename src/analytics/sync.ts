import { setTimeout as sleep } from 'node:timers/promises'
import { dateValue, listValue, timestampValue } from '@duckdb/node-api'
import type { Logger } from '../logger.ts'
import type { ChangedRow, FeedPosition, PostgresChangeFeed } from '../store/change-feed.ts'
import type { DuckDbReplica } from './duckdb-replica.ts'
import { NUMBER_TYPES, pathsOfStructures } from './property-paths.ts'
import { blockOf, usersBitmap } from './replica-schema.ts'

export interface SyncOptions {
  chunkRows: number
  idleIntervalMs: number
}

// Applied in one DuckDB transaction per chunk, together with the cursor: a
// crash at any point leaves the replica and its cursor consistent, so the next
// run neither skips nor repeats a row.
const KEY_USERS = [
  // New users get the next dense keys; a user seen again keeps theirs.
  `INSERT INTO users
   SELECT (SELECT coalesce(max(user_key), 0) FROM users) + row_number() OVER (ORDER BY s.user_id), s.user_id, s.first_day
   FROM (SELECT user_id, min(day) AS first_day FROM sync_stage GROUP BY user_id) s
   WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.user_id = s.user_id)`,
  // A late event can move a user's first day earlier.
  `UPDATE users SET first_day = s.first_day
   FROM (SELECT user_id, min(day) AS first_day FROM sync_stage GROUP BY user_id) s
   WHERE users.user_id = s.user_id AND s.first_day < users.first_day`,
  `CREATE OR REPLACE TEMP TABLE sync_keyed AS
   SELECT s.seq, s.day, s.event_type, s.occurred_at, s.properties, u.user_key
   FROM sync_stage s JOIN users u USING (user_id)`,
]

// One json_structure per distinct shape of properties, not per row: a chunk
// rarely holds more than a few dozen shapes.
const CHUNK_STRUCTURES = `SELECT DISTINCT json_structure(properties)::VARCHAR AS structure FROM sync_stage WHERE properties IS NOT NULL`

// The property rollups of the paths that still have them ($1).
const PROPERTY_ROLLUPS = [
  `INSERT INTO prop_day_counts
   SELECT day, path_id, type, coalesce(text, ''), event_type, count(*)
   FROM sync_props WHERE list_contains($1::INTEGER[], path_id) GROUP BY ALL
   ON CONFLICT DO UPDATE SET events = events + excluded.events`,
  `INSERT INTO prop_day_users
   SELECT day, path_id, type, coalesce(text, ''), ${blockOf('user_key')}, ${usersBitmap('user_key')}
   FROM sync_props WHERE list_contains($1::INTEGER[], path_id) GROUP BY ALL
   ON CONFLICT DO UPDATE SET users = users | excluded.users`,
]

const ROLLUPS = [
  // The chunk's users per (day, block), OR-ed into the bitmaps already there.
  `INSERT INTO day_users
   SELECT day, ${blockOf('user_key')}, ${usersBitmap('user_key')}
   FROM sync_keyed GROUP BY ALL
   ON CONFLICT DO UPDATE SET users = users | excluded.users`,
  `INSERT INTO day_type_users
   SELECT day, event_type, ${blockOf('user_key')}, ${usersBitmap('user_key')}
   FROM sync_keyed GROUP BY ALL
   ON CONFLICT DO UPDATE SET users = users | excluded.users`,
  // One row per (day, type), added to: appending a row per chunk would grow
  // the table with every chunk of a steady trickle rather than with the data.
  `INSERT INTO type_day_counts SELECT day, event_type, count(*) FROM sync_keyed GROUP BY ALL
   ON CONFLICT DO UPDATE SET events = events + excluded.events`,
]

/**
 * Copies committed rows from PostgreSQL into the DuckDB replica, in large
 * chunks through the Appender, for as long as it runs.
 */
export class AnalyticsSync {
  private running: Promise<void> | undefined
  private stopping = false
  private readonly stopController = new AbortController()
  private busy: Promise<number> = Promise.resolve(0)

  constructor(
    private readonly replica: DuckDbReplica,
    private readonly feed: PostgresChangeFeed,
    private readonly options: SyncOptions,
    private readonly log: Logger,
  ) {}

  /** Prepares the staging table, and starts over if the replica was filled from another event store. */
  async init(): Promise<void> {
    await this.replica.writer.run(
      `CREATE TEMP TABLE IF NOT EXISTS sync_stage (seq BIGINT, day DATE, occurred_at TIMESTAMP, user_id VARCHAR, event_type VARCHAR, properties VARCHAR)`,
    )
    const [source, cursor] = await Promise.all([this.feed.source(), this.replica.cursor()])
    // A cursor ahead of the next transaction id means ids went back (a new
    // cluster, a restore): the cursor would skip every new row.
    if (cursor.sourceId === source.id && cursor.xact <= source.nextXact) return
    if (cursor.syncedRows > 0n) {
      this.log.warn(
        { replicaSource: cursor.sourceId, storeSource: source.id, cursorXact: String(cursor.xact), nextXact: String(source.nextXact) },
        'the replica was filled from another event store; rebuilding it',
      )
    }
    await this.replica.reset(source.id)
  }

  start(): void {
    this.running ??= this.loop()
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.stopController.abort()
    await this.running
    await this.busy
  }

  /** Copies everything committed so far; resolves when the replica has caught up. Returns the rows copied. */
  async catchUp(): Promise<number> {
    // Serialised with the loop: two chunks must never be applied at once.
    const run = this.busy.then(() => this.drain(), () => this.drain())
    this.busy = run.catch(() => 0)
    return run
  }

  private async drain(): Promise<number> {
    let total = 0
    for (;;) {
      const copied = await this.syncChunk()
      total += copied
      if (copied < this.options.chunkRows || this.stopping) return total
    }
  }

  private async loop(): Promise<void> {
    let failures = 0
    while (!this.stopping) {
      try {
        const copied = await this.catchUp()
        failures = 0
        if (copied === 0) await this.pause(this.options.idleIntervalMs)
      } catch (err) {
        failures++
        const delay = Math.min(30_000, 100 * 2 ** Math.min(failures, 8))
        this.log.error({ err, retryInMs: delay }, 'analytics sync failed')
        await this.pause(delay)
      }
    }
  }

  /** One chunk: read after the cursor, append, apply, move the cursor; all or nothing. */
  async syncChunk(): Promise<number> {
    const started = performance.now()
    const rows = await this.readChunk(await this.replica.cursor())
    if (rows.length === 0) return 0
    const readAt = performance.now()
    const conn = this.replica.writer
    await conn.run('DELETE FROM sync_stage')
    const appender = await conn.createAppender('sync_stage')
    for (let i = 0; i < rows.length; i++) {
      appendRow(appender, rows[i]!)
      // Appending is synchronous JavaScript: let the API's requests through now
      // and then instead of holding the event loop for a whole chunk.
      if (i % APPEND_SLICE === APPEND_SLICE - 1) await new Promise((resolve) => setImmediate(resolve))
    }
    appender.closeSync()
    const [lastXact, lastSeq] = rows[rows.length - 1]!
    const appendedAt = performance.now()
    await conn.run('BEGIN TRANSACTION')
    try {
      for (const sql of KEY_USERS) await conn.run(sql)
      await this.insertEvents()
      for (const sql of ROLLUPS) await conn.run(sql)
      await conn.run(
        `UPDATE replica_meta SET cursor_xact = $1::UBIGINT, cursor_seq = $2::BIGINT,
           synced_rows = synced_rows + $3, synced_at_ms = $4 WHERE id = 1`,
        [lastXact, lastSeq, rows.length, Date.now()],
      )
      await conn.run('COMMIT')
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => {})
      await this.replica.paths.load(conn) // paths numbered in the rolled-back transaction are gone
      throw err
    }
    const done = performance.now()
    this.log.debug(
      { rows: rows.length, readMs: Math.round(readAt - started), appendMs: Math.round(appendedAt - readAt), applyMs: Math.round(done - appendedAt) },
      'analytics chunk synced',
    )
    return rows.length
  }

  /**
   * Up to chunkRows rows after the cursor, read a page at a time: an embedded
   * store (PGlite) runs each read on the event loop, so one 50,000-row read
   * held every request behind it for most of a second. Each page starts after
   * the last row of the one before, and every row below a page's horizon is
   * final, so paging neither skips nor repeats a row.
   */
  private async readChunk(cursor: FeedPosition): Promise<ChangedRow[]> {
    const rows: ChangedRow[] = []
    let after = cursor
    while (rows.length < this.options.chunkRows) {
      const want = Math.min(READ_PAGE_ROWS, this.options.chunkRows - rows.length)
      const page = await this.feed.readAfter(after, want)
      for (const row of page) rows.push(row)
      if (page.length < want) break
      const [xact, seq] = page[page.length - 1]!
      after = { xact: BigInt(xact), seq: BigInt(seq) }
    }
    return rows
  }

  /** The chunk's rows into `events`, and their property values into `event_props` and the rollups (new paths numbered first). */
  private async insertEvents(): Promise<void> {
    const conn = this.replica.writer
    await conn.run('INSERT INTO events SELECT seq, day, user_key, event_type, occurred_at, properties FROM sync_keyed')
    const structures = await this.replica.rows<{ structure: string }>(conn, CHUNK_STRUCTURES)
    const paths = await this.replica.paths.assign(conn, pathsOfStructures(structures.map((r) => r.structure)))
    if (paths.length === 0) return
    // One JSON parse per row for all of the chunk's paths; the two lists unnest side by side.
    await conn.run(
      `CREATE OR REPLACE TEMP TABLE sync_props AS
       SELECT seq, path_id, day, user_key, event_type, json_type(value) AS type, value ->> '$' AS text,
              CASE WHEN json_type(value) IN ${NUMBER_TYPES} THEN TRY_CAST(value ->> '$' AS DOUBLE) END AS number
       FROM (
         SELECT seq, day, user_key, event_type, unnest($1::INTEGER[]) AS path_id, unnest(json_extract(properties, $2::VARCHAR[])) AS value
         FROM sync_keyed WHERE properties IS NOT NULL
       )
       WHERE value IS NOT NULL`,
      [listValue(paths.map((p) => p.id)), listValue(paths.map((p) => p.path))],
    )
    await conn.run('INSERT INTO event_props SELECT * FROM sync_props')
    const rolled = await this.replica.paths.keepRollable(conn, paths.map((p) => p.id))
    if (rolled.length === 0) return
    for (const sql of PROPERTY_ROLLUPS) await conn.run(sql, [listValue(rolled)])
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopController.signal }).catch(() => {})
  }
}

const APPEND_SLICE = 2_000
const READ_PAGE_ROWS = 10_000

type Appender = Awaited<ReturnType<DuckDbReplica['writer']['createAppender']>>

function appendRow(appender: Appender, [, seq, day, micros, userId, eventType, properties]: ChangedRow): void {
  appender.appendBigInt(BigInt(seq))
  appender.appendDate(dateValue(day))
  appender.appendTimestamp(timestampValue(BigInt(micros)))
  appender.appendVarchar(userId)
  appender.appendVarchar(eventType)
  if (properties === null) appender.appendNull()
  else appender.appendVarchar(properties)
  appender.endRow()
}
