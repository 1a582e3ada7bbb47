import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from '../logger.ts'
import { purgeArchive } from '../retention/archive.ts'
import { HORIZON } from '../store/change-feed.ts'
import type { SqlClient } from '../store/sql-client.ts'

export interface RunnerOptions {
  /** heap blocks of events scanned per statement */
  chunkBlocks: number
  /** how often it looks for jobs when nobody woke it */
  pollMs: number
  /** ARCHIVE_DIR: the retention sweep's files, which a deletion rewrites without the ids */
  archiveDir?: string | undefined
}

/** The relations holding events (the table itself, or each of its partitions) and their blocks. */
type ScanPlan = Array<{ rel: string; blocks: number }>

interface OpenJob {
  id: string
  project_id: number
  ids: string[]
  next_block: string
  end_block: string | null
  scan_plan: ScanPlan | null
  ready: boolean
}

// The jobs not done, oldest first, and whether every transaction up to each
// one's request has ended (the horizon of change-feed.ts, so a long
// transaction in another database does not hold it back): an insert that
// began before the suppressions existed may still commit rows of the ids.
const OPEN_JOBS = `${HORIZON}
SELECT id::text, project_id, ids, next_block::text, end_block::text, scan_plan,
       requested_xact < horizon.xact AS ready
FROM deletions, horizon WHERE state <> 'done' ORDER BY requested_at, id`

// The scan ends at the heap's size once the horizon has passed: every row of
// the ids that can exist (until the suppression is lifted) lies below it. A
// partitioned table is scanned partition by partition; partitions made later
// hold none of the ids.
const START = `
WITH partitioned AS (
  SELECT relkind = 'p' AS yes FROM pg_class WHERE oid = 'events'::regclass
), leaves AS (
  SELECT relid::regclass::text AS rel, pg_relation_size(relid) / current_setting('block_size')::bigint AS blocks
  FROM pg_partition_tree('events') WHERE isleaf AND (SELECT yes FROM partitioned)
  UNION ALL
  SELECT 'events', pg_relation_size('events') / current_setting('block_size')::bigint
  WHERE NOT (SELECT yes FROM partitioned)
), planned AS (
  SELECT coalesce(jsonb_agg(jsonb_build_object('rel', rel, 'blocks', blocks) ORDER BY rel), '[]'::jsonb) AS plan,
         coalesce(sum(blocks), 0)::bigint AS total
  FROM leaves
)
UPDATE deletions SET state = 'running', scan_plan = planned.plan, end_block = planned.total
FROM planned WHERE id = $1::uuid AND end_block IS NULL`

// One chunk: a TID range scan of blocks [$2, $3) of one relation (its name,
// from the catalog, is the one thing not bound), and the job's position
// ($6, across relations) and count moved in the same statement, so a crash
// leaves both as they were or both moved. Two runners on one job delete
// disjoint rows, and each adds what it deleted.
const chunk = (rel: string) => `
WITH gone AS (
  DELETE FROM ${rel}
  WHERE ctid >= format('(%s,0)', $2::bigint)::tid AND ctid < format('(%s,0)', $3::bigint)::tid
    AND project_id = $4 AND user_id = ANY($5::text[])
  RETURNING project_id, event_id
), keys AS (
  -- A resend after the suppression is lifted is a new event, as before the deletion.
  DELETE FROM event_keys k USING gone g WHERE k.project_id = g.project_id AND k.event_id = g.event_id
)
UPDATE deletions SET next_block = greatest(next_block, $6::bigint),
  store_events = store_events + (SELECT count(*) FROM gone)
WHERE id = $1::uuid RETURNING next_block::text`

// A partition dropped meanwhile (retention) took its rows with it.
const SKIP = `UPDATE deletions SET next_block = greatest(next_block, $2::bigint)
WHERE id = $1::uuid RETURNING next_block::text`

// The end: the identify and alias calls that named the ids go too (with them
// the profile's traits and groups), the job is done and joins the feed the
// replicas read, and the audit row records how many events it removed.
const FINISH = `
WITH im AS (
  DELETE FROM identity_messages
  WHERE project_id = $2 AND (user_id = ANY($3::text[]) OR anonymous_id = ANY($3::text[]) OR previous_id = ANY($3::text[]))
  RETURNING 1
), d AS (
  UPDATE deletions SET state = 'done', finished_at = now(), finished_xact = pg_current_xact_id(),
    max_seq = coalesce(pg_sequence_last_value(pg_get_serial_sequence('events', 'seq')), 0),
    identity_messages = (SELECT count(*) FROM im), archive_events = $4
  WHERE id = $1::uuid AND state <> 'done'
  RETURNING id, project_id, ids, store_events
), a AS (
  INSERT INTO deletion_audit (project_id, action, actor, deletion_id, ids, events)
  SELECT project_id, 'deletion_done', 'deletion-runner', id, ids, store_events FROM d
  RETURNING 1
)
SELECT (SELECT count(*) FROM d)::int AS finished, (SELECT count(*) FROM a)::int AS audited`

/**
 * Runs the store's part of every deletion in the background, chunk by chunk,
 * and resumes unfinished ones after a restart (the job's position is in its
 * row). Every process that writes events runs one; their chunks never count
 * a row twice.
 */
export class DeletionRunner {
  private running: Promise<void> | undefined
  private stopping = false
  private readonly stopController = new AbortController()
  private wakeUp: (() => void) | undefined

  constructor(
    private readonly db: SqlClient,
    private readonly options: RunnerOptions,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.running ??= this.loop()
  }

  /** A job was just requested here: look now rather than at the next poll. */
  wake(): void {
    this.wakeUp?.()
  }

  async stop(): Promise<void> {
    this.stopping = true
    this.stopController.abort()
    await this.running
  }

  /** Runs every open job whose horizon has passed, to the end; returns how many are still open. */
  async runOnce(): Promise<number> {
    const { rows } = await this.db.query<OpenJob>(OPEN_JOBS)
    let open = 0
    for (const job of rows) {
      if (this.stopping) return rows.length
      if (!job.ready) {
        open++
        continue
      }
      await this.run(job)
    }
    return open
  }

  private async run(job: OpenJob): Promise<void> {
    let plan = job.scan_plan
    if (job.end_block === null || plan === null) {
      // Another runner may have started it first: its plan stands.
      await this.db.query(START, [job.id])
      const { rows } = await this.db.query<{ scan_plan: ScanPlan }>(
        'SELECT scan_plan FROM deletions WHERE id = $1::uuid',
        [job.id],
      )
      plan = rows[0]!.scan_plan
    }
    let next = BigInt(job.next_block)
    let start = 0n
    for (const { rel, blocks } of plan) {
      const end = start + BigInt(blocks)
      while (next < end) {
        if (this.stopping) return
        const to =
          next + BigInt(this.options.chunkBlocks) < end
            ? next + BigInt(this.options.chunkBlocks)
            : end
        next = await this.chunk(job, rel, next - start, to - start, to)
      }
      start = end
    }
    // The archive after the store: a table the retention sweep archives meanwhile
    // leaves these users out (they are suppressed), so no file gains their events later.
    const { archiveDir } = this.options
    const archived = archiveDir ? await purgeArchive(archiveDir, job.project_id, job.ids) : null
    await this.db.query(FINISH, [job.id, job.project_id, job.ids, archived])
    this.log.info({ deletion: job.id, ids: job.ids.length }, 'deletion done in the store')
  }

  /** Deletes the ids' rows in blocks [from, to) of `rel`; returns the job's position after. */
  private async chunk(job: OpenJob, rel: string, from: bigint, to: bigint, position: bigint) {
    try {
      const { rows } = await this.db.query<{ next_block: string }>(chunk(rel), [
        job.id,
        from.toString(),
        to.toString(),
        job.project_id,
        job.ids,
        position.toString(),
      ])
      return BigInt(rows[0]!.next_block)
    } catch (err) {
      if ((err as { code?: string }).code !== '42P01') throw err
      const { rows } = await this.db.query<{ next_block: string }>(SKIP, [
        job.id,
        position.toString(),
      ])
      return BigInt(rows[0]!.next_block)
    }
  }

  private async loop(): Promise<void> {
    let failures = 0
    while (!this.stopping) {
      let open = 0
      try {
        open = await this.runOnce()
        failures = 0
      } catch (err) {
        failures++
        this.log.error({ err, consecutiveFailures: failures }, 'deletion failed; retrying')
      }
      if (this.stopping) return
      // A job waiting for the horizon is looked at again soon; otherwise the poll or a wake-up.
      const delay =
        failures > 0
          ? Math.min(30_000, 100 * 2 ** Math.min(failures, 8))
          : open > 0
            ? 50
            : this.options.pollMs
      await new Promise<void>((resolve) => {
        this.wakeUp = resolve
        sleep(delay, undefined, { signal: this.stopController.signal }).then(resolve, resolve)
      })
      this.wakeUp = undefined
    }
  }
}
