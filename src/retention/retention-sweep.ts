import { setTimeout as sleep } from 'node:timers/promises'
import { currentHorizon } from '../export/export-rows.ts'
import type { Logger } from '../logger.ts'
import { DAY_MS, dayOf, monthOf, spanOfTable, tablesOfProject } from '../store/event-partitions.ts'
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

// Before any time an event can carry (validation takes years 1 to 9999).
const EARLIEST_MS = Date.UTC(-1000, 0, 1)

/** Every event of a project from `fromMs` (a UTC midnight) to before `toMs` (one too), for the archive. */
function wholeRange(project: number, fromMs: number, toMs: number) {
  return { project, fromDay: fromMs / DAY_MS, toDay: toMs / DAY_MS - 1, segments: [] }
}

const BLOCKS = (table: string) =>
  `SELECT pg_relation_size(to_regclass('${table}')) / current_setting('block_size')::bigint AS blocks`

// The keys of one chunk of a table's heap (a TID range scan, as a
// user's deletion does), so no statement holds more than a chunk of rows.
const DROP_KEYS = (table: string) => `
DELETE FROM event_keys k USING (
  SELECT project_id, event_id FROM ${table}
  WHERE ctid >= format('(%s,0)', $1::bigint)::tid AND ctid < format('(%s,0)', $2::bigint)::tid
) e
WHERE k.project_id = e.project_id AND k.event_id = e.event_id`

// Rows before the cut in the project's default tables (rows whose own table
// could not be made), row by row, with their keys; with an archive, only the
// rows of transactions below the horizon it was read at ($3), which are all
// it holds: later ones wait for the next sweep. The tables' names come from
// the catalog (defaultTables).
const DELETE_ROWS = (tables: readonly string[]) => `
WITH ${tables
  .map(
    (table, i) => `gone_${i} AS (
  DELETE FROM ${table} WHERE project_id = $1 AND occurred_at < $2
    AND ($3::text IS NULL OR xact_id < $3::text::xid8)
  RETURNING project_id, event_id
)`,
  )
  .join(', ')}, gone AS (${tables.map((_, i) => `SELECT * FROM gone_${i}`).join(' UNION ALL ')}),
keys AS (
  DELETE FROM event_keys k USING gone g WHERE k.project_id = g.project_id AND k.event_id = g.event_id
)
SELECT count(*)::int AS events FROM gone`

const AUDIT = `INSERT INTO retention_runs (project_id, cutoff, events, partitions, rows_deleted, archived)
VALUES ($1, $2, $3, $4, $5, $6)`

// Today's and tomorrow's tables and next month's, ahead of the writers.
const AHEAD = 'SELECT ensure_event_partitions($1::int[], $2::timestamptz[], $3::int)'

/**
 * Removes each project's events older than its retention from PostgreSQL:
 * every day, week or month table that ends before the cut is dropped (so an
 * event stays at most a table's span past the cut; answers and exports cut
 * on the exact day), and the rows before the cut in the default tables are
 * deleted, with their keys; each removal is recorded in retention_runs. It
 * also makes the coming tables for every project, so live events never wait
 * for one. Every step can be repeated: a sweep cut short by a crash is
 * finished by the next. Replicas cut themselves (the sync).
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
    const ahead = [today, today + DAY_MS, monthOf(monthOf(today) + 32 * DAY_MS)]
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
    const tables = await tablesOfProject(this.db, project)
    // The default tables have no span: their rows are cut one by one below.
    const defaults = tables.filter((name) => !spanOfTable(name))
    const expired = tables
      .flatMap((name) => {
        const span = spanOfTable(name)
        return span && span.end <= cutoff.getTime() ? [{ name, ...span }] : []
      })
      .sort((a, b) => a.start - b.start)
    for (const table of expired) {
      const events = await this.dropTable(project, table)
      if (events === null) continue
      result.events += events.dropped
      result.partitions.push(table.name)
      if (result.archived !== null) result.archived += events.archived
    }
    let horizon: string | null = null
    if (archiveDir) {
      horizon = await currentHorizon(this.db)
      const day = cutoff.toISOString().slice(0, 10).replaceAll('-', '')
      for (const relation of defaults)
        result.archived! += await archiveRows(
          this.db,
          {
            ...wholeRange(project, EARLIEST_MS, cutoff.getTime()),
            horizon,
            relation,
            withoutSuppressed: true,
          },
          archiveFile(archiveDir, project, `${relation}-before-${day}-${horizon}`),
        )
    }
    if (defaults.length > 0) {
      const deleted = await this.db.query<{ events: number }>(DELETE_ROWS(defaults), [
        project,
        cutoff,
        horizon,
      ])
      result.rowsDeleted = deleted.rows[0]!.events
    }
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

  /**
   * One table past the cut: archived (with ARCHIVE_DIR), its keys removed a
   * chunk of blocks at a time, then dropped, unless it changed since the
   * archive was read. Null when it was gone already. The archive leaves out
   * users being deleted: a table still holding their rows (the deletion has
   * not reached it) counts more than was archived and waits for the next sweep.
   */
  private async dropTable(
    project: number,
    table: { name: string; start: number; end: number },
  ): Promise<{ dropped: number; archived: number } | null> {
    const { archiveDir, chunkBlocks } = this.options
    const archived = archiveDir
      ? await archiveRows(
          this.db,
          {
            ...wholeRange(project, table.start, table.end),
            relation: table.name,
            withoutSuppressed: true,
          },
          // events-<YYYYMMDD>, -w<YYYYMMDD> or -<YYYYMM>: the range the table's name ends with
          archiveFile(
            archiveDir,
            project,
            `events-${table.name.slice(table.name.lastIndexOf('_') + 1)}`,
          ),
        )
      : null
    const { rows } = await this.db.query<{ blocks: string }>(BLOCKS(table.name))
    const blocks = Number(rows[0]?.blocks ?? 0)
    for (let from = 0; from < blocks; from += chunkBlocks)
      await this.db.query(DROP_KEYS(table.name), [from, from + chunkBlocks])
    const dropped = await this.db.query<{ events: string | null }>(
      'SELECT drop_event_partition($1, $2) AS events',
      [table.name, archived],
    )
    const events = dropped.rows[0]?.events
    if (events === null || events === undefined) return null
    return { dropped: Number(events), archived: archived ?? 0 }
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
