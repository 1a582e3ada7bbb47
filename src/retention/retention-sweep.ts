import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../logger.ts'
import { EventPartitions, monthOf } from '../store/event-partitions.ts'
import type { SqlClient } from '../store/sql-client.ts'
import { effectiveRetentionDays, retentionCutoff } from './cutoff.ts'

/** What one sweep removed from one project. */
export interface SweepResult {
  project: number
  cutoff: Date
  events: number
  partitions: string[]
}

// A project's month tables (migration 011), by the month their name gives.
const MONTH_TABLES = `
SELECT c.relname AS name, substring(c.relname FROM '_([0-9]{6})$') AS month
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass(format('events_p%s', $1::int)) AND c.relname ~ '_[0-9]{6}$'
ORDER BY 2`

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

// What is left before the cut once whole months are gone: the first kept
// month's earlier days and the default tables, row by row, with their keys.
const DELETE_ROWS = `
WITH gone AS (
  DELETE FROM events WHERE project_id = $1 AND occurred_at < $2
  RETURNING project_id, event_id
), keys AS (
  DELETE FROM event_keys k USING gone g WHERE k.project_id = g.project_id AND k.event_id = g.event_id
)
SELECT count(*)::int AS events FROM gone`

const AUDIT = `INSERT INTO retention_runs (project_id, cutoff, events, partitions) VALUES ($1, $2, $3, $4)`

/**
 * Removes each project's events older than its retention from PostgreSQL:
 * whole month tables dropped, then the rows left before the cut deleted,
 * with their keys, and each removal recorded in retention_runs. It also
 * makes this month's and next month's tables for every project, so live
 * events never wait for one. Every step can be repeated: a sweep cut short
 * by a crash is finished by the next. Replicas cut themselves (the sync).
 */
export class RetentionSweeper {
  private running: Promise<void> | undefined
  private readonly stopController = new AbortController()
  private readonly partitions = new EventPartitions()

  constructor(
    private readonly db: SqlClient,
    private readonly options: { days: number | null; sweepMs: number; chunkBlocks: number },
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

  async runOnce(): Promise<SweepResult[]> {
    const now = this.now()
    const { rows: projects } = await this.db.query<{ id: number; retention_days: number | null }>(
      'SELECT id, retention_days FROM projects ORDER BY id',
    )
    const thisMonth = monthOf(now.getTime())
    const nextMonth = monthOf(thisMonth + 32 * 86_400_000)
    await this.partitions.ensure(
      this.db,
      projects.flatMap((p) => [
        { project: p.id, month: thisMonth },
        { project: p.id, month: nextMonth },
      ]),
    )
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
    const result: SweepResult = { project, cutoff, events: 0, partitions: [] }
    const { rows: tables } = await this.db.query<{ name: string; month: string }>(MONTH_TABLES, [
      project,
    ])
    for (const { name, month } of tables) {
      const end = Date.UTC(Number(month.slice(0, 4)), Number(month.slice(4)), 1)
      if (end > cutoff.getTime()) break
      const { rows } = await this.db.query<{ blocks: string }>(BLOCKS(name))
      const blocks = Number(rows[0]?.blocks ?? 0)
      for (let from = 0; from < blocks; from += this.options.chunkBlocks)
        await this.db.query(DROP_KEYS(name), [from, from + this.options.chunkBlocks])
      const dropped = await this.db.query<{ events: string | null }>(
        'SELECT drop_event_partition($1) AS events',
        [name],
      )
      const events = dropped.rows[0]?.events
      if (events === null || events === undefined) continue
      result.events += Number(events)
      result.partitions.push(name)
    }
    const { rows } = await this.db.query<{ events: number }>(DELETE_ROWS, [project, cutoff])
    result.events += rows[0]!.events
    if (result.events > 0 || result.partitions.length > 0) {
      await this.db.query(AUDIT, [project, cutoff, result.events, result.partitions])
      this.log.info(
        {
          project,
          cutoff: cutoff.toISOString(),
          events: result.events,
          partitions: result.partitions,
        },
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
      await sleep(this.options.sweepMs, undefined, { signal }).catch(() => {})
    }
  }
}
