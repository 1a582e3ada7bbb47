import { setTimeout as sleep } from 'node:timers/promises'
import { currentHorizon } from '../export/export-rows.ts'
import type { Logger } from '../logger.ts'
import { dayOf, monthOf } from '../store/event-partitions.ts'
import type { SqlClient } from '../store/sql-client.ts'
import { archiveFile, archiveRows } from './archive.ts'
import { effectiveRetentionDays, retentionCutoff } from './cutoff.ts'

/** What one sweep removed from one project. */
export interface SweepResult {
  project: number
  cutoff: Date
  events: number
  partitions: string[]
  /** of the events, those deleted row by row rather than with a dropped table */
  rowsDeleted: number
  /** of the events, those written to ARCHIVE_DIR first; null without an archive */
  archived: number | null
}

export interface SweepOptions {
  /** RETENTION_DAYS: a project's retention when it sets none (null: keep everything) */
  days: number | null
  sweepMs: number
  /** heap blocks of a table whose keys one statement removes */
  chunkBlocks: number
  /** ARCHIVE_DIR: each removed table, and the rows deleted, go there as Parquet first */
  archiveDir?: string | undefined
}

// A project's day and month tables (migration 011), oldest first, by the
// range their name gives (YYYYMMDD or YYYYMM).
const TIME_TABLES = `
SELECT c.relname AS name, substring(c.relname FROM '_([0-9]{6}|[0-9]{8})$') AS range
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(format('events_p%s', $1::int)) AND c.relname ~ '_([0-9]{6}|[0-9]{8})$'
ORDER BY 2`

/** Where a table named for a day (YYYYMMDD) or a month (YYYYMM) begins, in ms. */
export function tableStart(range: string): number {
  const [y, m, d] = [range.slice(0, 4), range.slice(4, 6), range.slice(6) || '1'].map(Number) as [
    number,
    number,
    number,
  ]
  return Date.UTC(y, m - 1, d)
}

// Before any time an event can carry (validation takes years 1 to 9999).
const EARLIEST_MS = Date.UTC(-1000, 0, 1)

/** Every event of a project from `fromMs` (a UTC midnight) to before `toMs` (one too), for the archive. */
function wholeRange(project: number, fromMs: number, toMs: number) {
  return {
    project,
    fromDay: fromMs / 86_400_000,
    toDay: toMs / 86_400_000 - 1,
    segments: [],
  }
}

/** Where a table named for a day (YYYYMMDD) or a month (YYYYMM) ends, in ms. */
export function tableEnd(range: string): number {
  const [y, m, d] = [range.slice(0, 4), range.slice(4, 6), range.slice(6)].map(Number) as [
    number,
    number,
    number,
  ]
  return range.length === 8 ? Date.UTC(y, m - 1, d + 1) : Date.UTC(y, m, 1)
}

const BLOCKS = (table: string) =>
  `SELECT pg_relation_size(to_regclass('${table}')) / current_setting('block_size')::bigint AS blocks`

// The keys of one chunk of a month table's heap (a TID range scan, as a
// user's deletion does), so no statement holds more than a chunk of rows.
const DROP_KEYS = (table: string) => `
DELETE FROM event_keys k USING (
  SELECT project_id, event_id FROM ${table}
  WHERE ctid >= format('(%s,0)', $1::bigint)::tid AND ctid < format('(%s,0)', $2::bigint)::tid
) e
WHERE k.project_id = e.project_id AND k.event_id = e.event_id`

// What is left before the cut once whole tables are gone (a month table
// straddling it, the default tables), row by row, with their keys; with an
// archive, only the rows of transactions below the horizon it was read at
// ($3), which are all it holds: later ones wait for the next sweep.
const DELETE_ROWS = `
WITH gone AS (
  DELETE FROM events WHERE project_id = $1 AND occurred_at < $2
    AND ($3::text IS NULL OR xact_id < $3::text::xid8)
  RETURNING project_id, event_id
), keys AS (
  DELETE FROM event_keys k USING gone g WHERE k.project_id = g.project_id AND k.event_id = g.event_id
)
SELECT count(*)::int AS events FROM gone`

const AUDIT = `INSERT INTO retention_runs (project_id, cutoff, events, partitions, rows_deleted, archived)
VALUES ($1, $2, $3, $4, $5, $6)`

// Today's and tomorrow's tables and next month's, ahead of the writers.
const AHEAD = 'SELECT ensure_event_partitions($1::int[], $2::timestamptz[], $3::int)'

/**
 * Removes each project's events older than its retention from PostgreSQL:
 * whole day and month tables dropped (a project with a retention stores a
 * table per day, so in the steady state that is all a sweep does), then the
 * rows left before the cut deleted (a month table straddling it, kept from
 * before the retention was set, and the default tables), with their keys,
 * and each removal recorded in retention_runs. It also makes the coming
 * tables for every project, so live events never wait for one. Every step can be repeated: a sweep cut short
 * by a crash is finished by the next. Replicas cut themselves (the sync).
 */
export class RetentionSweeper {
  private running: Promise<void> | undefined
  private readonly stopController = new AbortController()
  private sweptOnce: () => void = () => {}
  private readonly firstSweep = new Promise<void>((resolve) => {
    this.sweptOnce = resolve
  })

  constructor(
    private readonly db: SqlClient,
    private readonly options: SweepOptions,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  start(): void {
    this.running ??= this.loop()
  }

  async stop(): Promise<void> {
    this.stopController.abort()
    await this.running
  }

  /** Resolves once the sweep start() began has ended, however it ended. */
  firstSweepDone(): Promise<void> {
    return this.firstSweep
  }

  async runOnce(): Promise<SweepResult[]> {
    const now = this.now()
    const { rows: projects } = await this.db.query<{ id: number; retention_days: number | null }>(
      'SELECT id, retention_days FROM projects ORDER BY id',
    )
    const today = dayOf(now.getTime())
    const ahead = [today, today + 86_400_000, monthOf(monthOf(today) + 32 * 86_400_000)]
    await this.db.query(AHEAD, [
      projects.flatMap((p) => ahead.map(() => p.id)),
      projects.flatMap(() => ahead.map((ms) => new Date(ms).toISOString())),
      this.options.days,
    ])
    const results: SweepResult[] = []
    for (const project of projects) {
      const cutoff = retentionCutoff(effectiveRetentionDays(project, this.options.days), now)
      if (!cutoff) continue
      // One project's trouble (a lock not had in time) does not hold back the others.
      const result = await this.sweep(project.id, cutoff).catch((err: Error) => {
        this.log.warn(
          { err, project: project.id },
          'retention sweep of a project failed; trying again at the next one',
        )
        return undefined
      })
      if (result && (result.events > 0 || result.partitions.length > 0)) results.push(result)
    }
    return results
  }

  private async sweep(project: number, cutoff: Date): Promise<SweepResult> {
    const { archiveDir } = this.options
    const result: SweepResult = {
      project,
      cutoff,
      events: 0,
      partitions: [],
      rowsDeleted: 0,
      archived: archiveDir ? 0 : null,
    }
    const { rows: tables } = await this.db.query<{ name: string; range: string }>(TIME_TABLES, [
      project,
    ])
    for (const { name, range } of tables) {
      // Sorted as text, a month's name comes before its days': a table that
      // does not end before the cut stops the drops, and every later one is later.
      const end = tableEnd(range)
      if (end > cutoff.getTime()) break
      const archived = archiveDir
        ? await archiveRows(
            this.db,
            { ...wholeRange(project, tableStart(range), end), relation: name },
            archiveFile(archiveDir, project, `events-${range}`),
          )
        : null
      const { rows } = await this.db.query<{ blocks: string }>(BLOCKS(name))
      const blocks = Number(rows[0]?.blocks ?? 0)
      for (let from = 0; from < blocks; from += this.options.chunkBlocks)
        await this.db.query(DROP_KEYS(name), [from, from + this.options.chunkBlocks])
      const dropped = await this.db.query<{ events: string | null }>(
        'SELECT drop_event_partition($1, $2) AS events',
        [name, archived],
      )
      const events = dropped.rows[0]?.events
      if (events === null || events === undefined) continue
      result.events += Number(events)
      result.partitions.push(name)
      if (result.archived !== null) result.archived += archived ?? 0
    }
    let horizon: string | null = null
    if (archiveDir) {
      horizon = await currentHorizon(this.db)
      const day = cutoff.toISOString().slice(0, 10).replaceAll('-', '')
      result.archived! += await archiveRows(
        this.db,
        { ...wholeRange(project, EARLIEST_MS, cutoff.getTime()), horizon },
        archiveFile(archiveDir, project, `events-before-${day}-${horizon}`),
      )
    }
    const { rows } = await this.db.query<{ events: number }>(DELETE_ROWS, [
      project,
      cutoff,
      horizon,
    ])
    result.rowsDeleted = rows[0]!.events
    result.events += result.rowsDeleted
    if (result.events > 0 || result.partitions.length > 0) {
      await this.db.query(AUDIT, [
        project,
        cutoff,
        result.events,
        result.partitions,
        result.rowsDeleted,
        result.archived,
      ])
      this.log.info(
        { ...result, cutoff: cutoff.toISOString() },
        'retention: removed events older than the cut',
      )
    }
    return result
  }

  private async loop(): Promise<void> {
    const { signal } = this.stopController
    while (!signal.aborted) {
      try {
        await this.runOnce()
      } catch (err) {
        this.log.warn({ err }, 'retention sweep failed; trying again at the next one')
      }
      this.sweptOnce()
      await sleep(this.options.sweepMs, undefined, { signal }).catch(() => {})
    }
  }
}
