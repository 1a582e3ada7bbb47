import { setTimeout as sleep } from 'node:timers/promises'
import { dateValue, listValue, timestampValue } from '@duckdb/node-api'
import type { Logger } from '../logger.ts'
import type {
  ChangedRow,
  FeedPosition,
  PagedRead,
  PostgresChangeFeed,
} from '../store/change-feed.ts'
import { applyDeletion, deletionCursor } from './deletion-sync.ts'
import { type DuckDbReplica, isCorruption } from './duckdb-replica.ts'
import { bitmapBudget, FOLD_PENDING_ROWS, foldBatch, foldPending, pendingRows } from './fold.ts'
import type { IdentityWarning } from './identity-merge.ts'
import { applyIdentityBatch, identityCursor } from './identity-sync.ts'
import { pathsOfStructures } from './property-paths.ts'
import { type AppliedCut, appliedCut, applyCut, cutStep, type Retention } from './retention-cut.ts'
import { SyncHealth } from './sync-health.ts'
import {
  CHUNK_STRUCTURES,
  KEY_USERS,
  PROPERTY_ROLLUPS,
  ROLLUPS,
  STAGE_KEYS,
  STAGE_PROPS,
} from './sync-sql.ts'
import { SyncWaker } from './sync-waker.ts'

export interface SyncOptions {
  chunkRows: number
  /** how long an idle sync waits for a wake-up before it looks for new rows anyway */
  idleIntervalMs: number
  /** woken by whoever commits rows; without one the sync only polls */
  waker?: SyncWaker
  /** keeps the warnings of identity calls that were not applied (conflicts, ids never linked) */
  identityWarnings?: (warnings: IdentityWarning[]) => Promise<void>
  /** where the project's retention cuts now (RetentionCuts.of); without one the replica keeps everything */
  retentionCut?: () => Promise<Retention>
}

// Identity calls are few beside events (one per sign-up or login), and a
// batch's merges move whole persons: a modest batch keeps a transaction short.
const IDENTITY_BATCH = 2_000
// Deletions are rarer still, and each is a transaction of its own.
const DELETION_BATCH = 100

/**
 * Copies committed rows from PostgreSQL into the DuckDB replica, in large
 * chunks through the Appender, for as long as it runs.
 */
export class AnalyticsSync {
  private running: Promise<void> | undefined
  private stopping = false
  private readonly stopController = new AbortController()
  /** the file's generation this sync's staging table was made in (ReplicaDatabase.generation) */
  private generation = -1
  /** whether the last read reached the end of what is committed */
  private caughtUp = false
  /** the next chunk's rows, being read while one is applied */
  private readAhead: { after: FeedPosition; limit: number; rows: Promise<PagedRead> } | undefined
  /** rows per chunk now: chunkRows, or less after a chunk ran out of memory */
  private rowLimit: number
  /** rows in the chunk last tried */
  private attempted = 0
  /** chunks staged so far, which numbers each staging's rows */
  private stagings = 0
  /** the retention cut the replica holds no row below (retention_cut), null: none */
  private cut: AppliedCut | null = null
  private readonly bitmapBudget: number
  private readonly waker: SyncWaker
  readonly health = new SyncHealth()

  constructor(
    private readonly replica: DuckDbReplica,
    private readonly feed: PostgresChangeFeed,
    private readonly options: SyncOptions,
    private readonly log: Logger,
  ) {
    this.rowLimit = options.chunkRows
    this.waker = options.waker ?? new SyncWaker()
    this.bitmapBudget = bitmapBudget(replica.memoryLimit)
  }

  /** Prepares the staging table, and starts over if the replica was filled from another event store. */
  async init(): Promise<void> {
    this.readAhead = undefined
    this.generation = this.replica.database.generation
    this.cut = await appliedCut(this.replica.writer)
    await this.replica.writer.run(
      `CREATE OR REPLACE TEMP TABLE sync_stage (attempt INTEGER, ord INTEGER, seq BIGINT, day DATE, occurred_at TIMESTAMP, user_id VARCHAR, event_type VARCHAR, properties VARCHAR)`,
    )
    const [source, cursor] = await Promise.all([this.feed.source(), this.replica.cursor('sync')])
    // A cursor ahead of the next transaction id means ids went back (a new
    // cluster, a restore): the cursor would skip every new row.
    if (cursor.sourceId === source.id && cursor.xact <= source.nextXact) return
    if (cursor.syncedRows > 0n) {
      this.log.warn(
        {
          replicaSource: cursor.sourceId,
          storeSource: source.id,
          cursorXact: String(cursor.xact),
          nextXact: String(source.nextXact),
        },
        'the replica was filled from another event store; rebuilding it',
      )
    }
    await this.replica.reset(source.id)
    this.cut = null
  }

  start(): void {
    this.running ??= this.loop()
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.stopController.abort()
    await this.running
    await this.replica.database.idle()
  }

  /** Copies everything committed so far; resolves when the replica has caught up. Returns the rows read (those below the retention cut, read and skipped, included). */
  catchUp(): Promise<number> {
    return this.serialised(() => this.drain())
  }

  /** Folds every pending (group, user) row into the user bitmaps (fold.ts). */
  fold(): Promise<void> {
    return this.serialised(() => foldPending(this.replica.writer, this.bitmapBudget))
  }

  /** Folds one batch of pending rows; returns the pending rows left. */
  private foldSome(): Promise<number> {
    return this.serialised(() => foldBatch(this.replica.writer, this.bitmapBudget))
  }

  // Everything that writes goes through here: two chunks, or a chunk and a
  // fold, must never be applied at once, in this project or another (the
  // replicas share the file's memory).
  private serialised<T>(work: () => Promise<T>): Promise<T> {
    return this.replica.database.serialise(work)
  }

  private async drain(): Promise<number> {
    let total = 0
    for (;;) {
      let copied: number
      try {
        // A damaged file would fail every chunk and every /stats read; it is
        // derived data, so it is rebuilt from the store instead.
        if (this.replica.corruption) await this.replica.replaceCorruptFile()
        // Replaced, by this sync or another project's: its connections are new.
        if (this.generation !== this.replica.database.generation) await this.init()
        await this.applyRetention()
        copied = await this.syncChunk()
        const eventsCaughtUp = this.caughtUp
        const linked = await this.syncIdentities()
        const deleted = await this.syncDeletions()
        this.caughtUp = eventsCaughtUp && linked < IDENTITY_BATCH && deleted < DELETION_BATCH
        copied += linked + deleted
        if (copied > 0 && (await pendingRows(this.replica.writer)) >= FOLD_PENDING_ROWS)
          await foldBatch(this.replica.writer, this.bitmapBudget)
        this.health.succeeded()
      } catch (err) {
        this.health.failed(err as Error)
        if (isCorruption(err)) this.replica.corruption ??= err as Error
        // Out of memory (very large properties, say): the same chunk would
        // fail the same way forever, a smaller one may not.
        if (isOutOfMemory(err) && this.attempted > 1) {
          this.rowLimit = Math.floor(this.attempted / 2)
          this.log.warn(
            { err, rowLimit: this.rowLimit },
            'analytics chunk ran out of memory; splitting it',
          )
          continue
        }
        throw err
      }
      total += copied
      if (this.caughtUp || this.stopping) return total
    }
  }

  private async loop(): Promise<void> {
    let failures = 0
    while (!this.stopping) {
      try {
        // Nothing new: a moment to fold what is pending, so queries read bitmaps
        // only; a batch at a time, so rows that come meanwhile wait for one batch at most.
        const idle = (await this.catchUp()) === 0
        failures = 0
        if (idle && (await this.foldSome()) > 0) continue
        // Caught up: what commits next wakes the sync (those that came while
        // it read lead to one more read), and rows still behind the horizon
        // wait for the next wake-up or the poll instead of being read again at once.
        await this.waker.wait(this.options.idleIntervalMs, this.stopController.signal)
      } catch (err) {
        failures++
        const delay = Math.min(30_000, 100 * 2 ** Math.min(failures, 8))
        this.log.error(
          { err, retryInMs: delay, consecutiveFailures: failures },
          'analytics sync failed',
        )
        await this.pause(delay)
      }
    }
  }

  /**
   * Moves the replica to the project's retention cut now (retention-cut.ts).
   * Retention lengthened or unset wants rows the replica removed and the
   * store may still hold: the replica is rebuilt from the store, which is
   * rare (an admin's change) and always correct.
   */
  private async applyRetention(): Promise<void> {
    const want = (await this.options.retentionCut?.()) ?? { days: null, cut: null }
    const step = cutStep(this.cut, want)
    if (step === 'none') return
    if (step === 'rebuild') {
      this.log.warn(
        { applied: this.cut && { ...this.cut, cut: dayName(this.cut.cut) }, days: want.days },
        'retention lengthened; rebuilding the replica from the store',
      )
      await this.replica.reset()
      await this.init()
    }
    if (want.cut === null || want.days === null) return
    const cut = { days: want.days, cut: want.cut }
    const events = await applyCut(this.replica.writer, cut)
    this.cut = cut
    this.log.info(
      { cut: dayName(cut.cut), days: cut.days, events },
      'retention cut applied to the replica',
    )
  }

  /**
   * One chunk: read after the cursor, append, apply, move the cursor; all or
   * nothing. Rows below the retention cut are not taken, and the cursor moves
   * past them all the same. Returns the rows read.
   */
  async syncChunk(): Promise<number> {
    const started = performance.now()
    const read = await this.readChunk(await this.replica.cursor('sync'))
    if (read.length === 0) return 0
    this.attempted = read.length
    const [lastXact, lastSeq] = read[read.length - 1]!
    const cut = this.cut?.cut
    const rows = cut === undefined ? read : read.filter((row) => Number(row[2]) >= cut)
    const conn = this.replica.writer
    if (rows.length === 0) {
      await conn.run(
        'UPDATE replica_meta SET cursor_xact = $1::UBIGINT, cursor_seq = $2::BIGINT, synced_at_ms = $3 WHERE id = 1',
        [lastXact, lastSeq, Date.now()],
      )
      return read.length
    }
    const readAt = performance.now()
    await this.stage(rows)
    const appendedAt = performance.now()
    const paths = await this.stageProperties()
    await conn.run('BEGIN TRANSACTION')
    try {
      for (const sql of KEY_USERS) await conn.run(sql)
      await conn.run(
        'INSERT INTO events SELECT seq, day, user_key, event_type, occurred_at, properties FROM sync_keyed',
      )
      await this.insertProperties(paths)
      for (const sql of ROLLUPS) await conn.run(sql)
      await conn.run(
        `UPDATE replica_meta SET cursor_xact = $1::UBIGINT, cursor_seq = $2::BIGINT,
           synced_rows = synced_rows + $3, synced_at_ms = $4 WHERE id = 1`,
        [lastXact, lastSeq, rows.length, Date.now()],
      )
      await conn.run('COMMIT')
    } catch (err) {
      await conn
        .run('ROLLBACK')
        .catch((rollbackErr) =>
          this.log.warn({ err: rollbackErr }, 'analytics chunk rollback failed'),
        )
      await this.replica.paths.load(conn) // paths numbered in the rolled-back transaction are gone
      throw err
    }
    // Back towards chunkRows after a chunk that ran out of memory was halved.
    if (read.length === this.rowLimit)
      this.rowLimit = Math.min(this.options.chunkRows, this.rowLimit * 2)
    const done = performance.now()
    this.log.debug(
      {
        rows: rows.length,
        belowCut: read.length - rows.length,
        readMs: Math.round(readAt - started),
        appendMs: Math.round(appendedAt - readAt),
        applyMs: Math.round(done - appendedAt),
      },
      'analytics chunk synced',
    )
    return read.length
  }

  /**
   * The identity calls committed after the replica's identity cursor, applied
   * (identity-sync.ts). Their order against events changes no figure: a link
   * moves the events already copied, and events copied later are keyed to
   * the person at once. Returns the calls applied.
   */
  private async syncIdentities(): Promise<number> {
    const rows = await this.feed.readIdentities(
      await identityCursor(this.replica.writer),
      IDENTITY_BATCH,
    )
    if (rows.length === 0) return 0
    const warnings = await applyIdentityBatch(this.replica, rows)
    if (warnings.length > 0) {
      // Kept for the operator, not needed for the figures: a store that
      // cannot take them now must not hold the replica back.
      await this.options
        .identityWarnings?.(warnings)
        .catch((err) =>
          this.log.warn({ err, warnings: warnings.length }, 'identity warnings not kept'),
        )
    }
    return rows.length
  }

  /**
   * The deletions the store finished since the replica's deletion cursor,
   * applied one by one (deletion-sync.ts), each reported back to the store.
   * The store removed the rows first and stores none of those ids while they
   * are suppressed, so rows read from now on hold none: only rows read ahead
   * before the deletion finished might, and they are dropped. Returns the
   * deletions applied.
   */
  private async syncDeletions(): Promise<number> {
    const rows = await this.feed.readDeletions(
      await deletionCursor(this.replica.writer),
      DELETION_BATCH,
    )
    if (rows.length === 0) return 0
    this.readAhead = undefined
    for (const row of rows) {
      const events = await applyDeletion(this.replica.writer, row)
      // The figure is for GET /deletions/{id}; the replica is correct without it.
      await this.feed
        .reportDeletion(row.id, events)
        .catch((err) => this.log.warn({ err, deletion: row.id }, 'deletion count not reported'))
      this.log.info({ deletion: row.id, events }, 'deletion applied to the replica')
    }
    return rows.length
  }

  /** The chunk's rows into sync_stage, numbered in their order, then keyed (sync_keyed). */
  private async stage(rows: ChangedRow[]): Promise<void> {
    const conn = this.replica.writer
    // An appender left open by a failed attempt writes what it still holds
    // when it is destroyed, whenever the garbage collector gets to it: rows
    // are tagged with their attempt, and only this attempt's are keyed.
    const attempt = ++this.stagings
    await conn.run('DELETE FROM sync_stage')
    const appender = await conn.createAppender('sync_stage')
    try {
      for (let i = 0; i < rows.length; i++) {
        appendRow(appender, attempt, i, rows[i]!)
        // Appending, and writing out what was appended, are synchronous: let the
        // API's requests through now and then instead of holding the event loop
        // for a whole chunk (measured on a busy machine, 2,000-row slices held it
        // up to 21 ms, and closing the appender on 50,000 rows 44 ms).
        if (i % APPEND_SLICE === APPEND_SLICE - 1) {
          appender.flushSync()
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
    } catch (err) {
      try {
        appender.closeSync()
      } catch {} // the error that matters is the first one
      throw err
    }
    appender.closeSync()
    await conn.run(STAGE_KEYS, [attempt])
  }

  /**
   * Up to rowLimit rows after the cursor. While the sync is behind, the next
   * chunk's rows are read while this one is applied: PostgreSQL's work then
   * overlaps DuckDB's. A chunk that fails is read again from the cursor (the
   * rows read ahead start after it, so they are not used).
   */
  private async readChunk(cursor: FeedPosition): Promise<ChangedRow[]> {
    const { rows, caughtUp } = await this.readRows(cursor, this.rowLimit)
    this.caughtUp = caughtUp
    if (!caughtUp && rows.length > 0) {
      const next = positionOf(rows[rows.length - 1]!)
      const ahead = this.feed.readPages(next, this.rowLimit, READ_PAGE_ROWS)
      ahead.catch(() => {}) // not awaited if the chunk fails or the sync stops: nothing to report
      this.readAhead = { after: next, limit: this.rowLimit, rows: ahead }
    }
    return rows
  }

  /** The rows read ahead if they start where this read does, else a read of the store. */
  private readRows(after: FeedPosition, limit: number) {
    const ahead = this.readAhead
    this.readAhead = undefined
    if (ahead && ahead.limit === limit && samePosition(ahead.after, after)) return ahead.rows
    return this.feed.readPages(after, limit, READ_PAGE_ROWS)
  }

  /**
   * The chunk's property values into sync_props, one JSON parse per row for
   * all of its paths, with the numbers its paths will have (new paths are
   * numbered in the transaction, in the same order).
   */
  private async stageProperties(): Promise<Array<{ path: string; id: number }>> {
    const conn = this.replica.writer
    const structures = await this.replica.rows<{ structure: string }>(conn, CHUNK_STRUCTURES)
    const paths = this.replica.paths.plan(pathsOfStructures(structures.map((r) => r.structure)))
    await conn.run(
      STAGE_PROPS,
      // Without paths, lists of one placeholder: an empty list cannot be bound (its item type is unknown).
      paths.length > 0
        ? [listValue(paths.map((p) => p.id)), listValue(paths.map((p) => p.path)), true]
        : [listValue([-1]), listValue(['$']), false],
    )
    return paths
  }

  /** sync_props into event_props and the rollups, after numbering the new paths. */
  private async insertProperties(planned: Array<{ path: string; id: number }>): Promise<void> {
    if (planned.length === 0) return
    const conn = this.replica.writer
    const paths = await this.replica.paths.assign(
      conn,
      planned.map((p) => p.path),
    )
    if (paths.some((p, i) => p.id !== planned[i]!.id))
      throw new Error('property paths were numbered differently than planned')
    await conn.run(
      'INSERT INTO event_props SELECT seq, path_id, day, user_key, event_type, type, text, number FROM sync_props',
    )
    const rolled = await this.replica.paths.keepRollable(
      conn,
      paths.map((p) => p.id),
    )
    if (rolled.length === 0) return
    for (const sql of PROPERTY_ROLLUPS) await conn.run(sql, [listValue(rolled)])
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopController.signal }).catch(() => {})
  }
}

const APPEND_SLICE = 1_000
// An embedded store (PGlite) runs each read on the event loop: one 50,000-row
// read held every request behind it for most of a second.
const READ_PAGE_ROWS = 10_000

type Appender = Awaited<ReturnType<DuckDbReplica['writer']['createAppender']>>

const dayName = (day: number) => new Date(day * 86_400_000).toISOString().slice(0, 10)

const samePosition = (a: FeedPosition, b: FeedPosition) => a.xact === b.xact && a.seq === b.seq

const positionOf = ([xact, seq]: ChangedRow): FeedPosition => ({
  xact: BigInt(xact),
  seq: BigInt(seq),
})

function isOutOfMemory(err: unknown): boolean {
  return err instanceof Error && /out of memory/i.test(err.message)
}

function appendRow(
  appender: Appender,
  attempt: number,
  ord: number,
  [, seq, day, micros, userId, eventType, properties]: ChangedRow,
): void {
  appender.appendInteger(attempt)
  appender.appendInteger(ord)
  appender.appendBigInt(BigInt(seq))
  appender.appendDate(dateValue(day))
  appender.appendTimestamp(timestampValue(BigInt(micros)))
  appender.appendVarchar(userId)
  appender.appendVarchar(eventType)
  if (properties === null) appender.appendNull()
  else appender.appendVarchar(properties)
  appender.endRow()
}
