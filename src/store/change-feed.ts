import type { SqlClient } from './sql-client.ts'

/**
 * A committed row as the analytics sync needs it, as a tuple: [xact_id, seq,
 * UTC day as days since 1970-01-01, occurred_at in epoch microseconds, user_id,
 * event_type, properties as JSON text or null when empty]. Arrays rather than
 * objects halve the client's parsing time.
 */
export type ChangedRow = [
  xact: string,
  seq: string,
  day: number,
  occurredAtMicros: string,
  userId: string,
  eventType: string,
  properties: string | null,
]

export interface PagedRead {
  rows: ChangedRow[]
  caughtUp: boolean
}

export interface FeedPosition {
  xact: bigint
  seq: bigint
}

// Reads rows in (xact_id, seq) order, and only from transactions older than
// every transaction still running that could yet commit rows here (the
// horizon). A row written by a transaction that began earlier but commits
// later therefore waits until it is visible, instead of being skipped by a
// cursor that has already moved past its xid.
// Transaction ids are shared by every database of the cluster, so the plain
// snapshot xmin would let one long transaction in another database hold the
// replica back. The horizon leaves out only the running transactions that
// pg_stat_activity shows in another database; one that ends between the
// snapshot and that look-up stays in, which is merely conservative. Without
// the privilege to see other sessions' xids (pg_read_all_stats), nothing is
// left out and this is the snapshot's xmin again.
// The day and the microsecond timestamp are computed here, once, so the
// replica never converts time zones.
export const HORIZON = `
WITH horizon AS (
  SELECT coalesce(
    (SELECT min(running) FROM pg_snapshot_xip(pg_current_snapshot()) AS running
     WHERE xid(running) NOT IN (
       SELECT backend_xid FROM pg_stat_activity
       WHERE backend_xid IS NOT NULL AND datname IS DISTINCT FROM current_database())),
    pg_snapshot_xmax(pg_current_snapshot())) AS xact
)`

// Through events_after (migration 011): over the partitioned table the
// planner would sort every row past the position instead of reading on in order.
const READ_AFTER = `${HORIZON}
SELECT e.xact_id::text AS xact, e.seq::text AS seq,
       ((e.occurred_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01') AS day,
       (extract(epoch FROM e.occurred_at) * 1000000)::bigint::text AS micros,
       e.user_id, e.event_type, nullif(e.properties, '{}'::jsonb)::text AS properties
FROM horizon, events_after($4, $1::text::xid8, $2::bigint, horizon.xact, $3) e
ORDER BY e.xact_id, e.seq -- qualified: a bare "seq" would sort by the text alias`

// The identity messages (migration 006) after a position, with the same horizon.
const IDENTITIES_AFTER = `${HORIZON}
SELECT m.xact_id::text AS xact, m.seq::text AS seq, m.message_id::text AS message_id, m.kind,
       m.source, m.user_id, m.anonymous_id, m.previous_id, m.group_id, m.group_type,
       nullif(m.traits, '{}'::jsonb)::text AS traits,
       nullif(m.traits_once, '{}'::jsonb)::text AS traits_once,
       (extract(epoch FROM m.occurred_at) * 1000000)::bigint::text AS micros
FROM identity_messages m, horizon
WHERE m.project_id = $4
  AND (m.xact_id, m.seq) > ($1::text::xid8, $2::bigint)
  AND m.xact_id < horizon.xact
ORDER BY m.xact_id, m.seq
LIMIT $3`

// Finished deletions (migration 008) after a position, with the same horizon:
// the second feed a replica reads, so every stats process applies each one.
const DELETIONS_AFTER = `${HORIZON}
SELECT d.finished_xact::text AS xact, d.seq::text AS seq, d.id::text AS id, d.ids, d.max_seq::text AS max_seq
FROM deletions d, horizon
WHERE d.project_id = $4 AND d.finished_xact IS NOT NULL
  AND (d.finished_xact, d.seq) > ($1::text::xid8, $2::bigint)
  AND d.finished_xact < horizon.xact
ORDER BY d.finished_xact, d.seq
LIMIT $3`

// How far behind a position is: rows not yet copied (capped, so a replica that
// is far behind does not make this expensive) and the age of the oldest one.
const LAG = `
SELECT count(*)::int AS rows, extract(epoch FROM now() - min(received_at)) * 1000 AS ms
FROM events_after($4, $1::text::xid8, $2::bigint, '18446744073709551615'::xid8, $3) behind`

export const LAG_CAP = 1_000_000

/** An identify, alias, group or set call as the replica applies it (IdentityStore wrote it). */
export interface IdentityRow {
  xact: string
  seq: string
  message_id: string
  kind: 'identify' | 'alias' | 'group' | 'set'
  source: 'segment' | 'posthog' | 'web'
  user_id: string
  anonymous_id: string | null
  previous_id: string | null
  group_id: string | null
  group_type: string | null
  /** JSON text, null when empty */
  traits: string | null
  traits_once: string | null
  /** occurred_at in epoch microseconds */
  micros: string
}

/** A deletion the store has finished, for the replica to apply. */
export interface DeletionRow {
  xact: string
  seq: string
  id: string
  ids: string[]
  /** the events' seq when it finished: later rows of the ids came after a lift */
  max_seq: string
}

/** One project's committed rows, in commit order (its index: events_project_sync_idx). */
export class PostgresChangeFeed {
  constructor(
    private readonly db: SqlClient,
    readonly project: number,
  ) {}

  async readAfter(position: FeedPosition, limit: number): Promise<ChangedRow[]> {
    const { rows } = await this.db.query<ChangedRow>(
      READ_AFTER,
      [position.xact.toString(), position.seq.toString(), limit, this.project],
      { rowMode: 'array' },
    )
    return rows
  }

  /**
   * Up to `limit` rows after `position`, read `pageRows` at a time. Each page
   * starts after the last row of the one before, and every row below a page's
   * horizon is final, so paging neither skips nor repeats a row. `caughtUp`:
   * the last page reached the end of what is committed.
   */
  async readPages(position: FeedPosition, limit: number, pageRows: number): Promise<PagedRead> {
    const rows: ChangedRow[] = []
    let after = position
    while (rows.length < limit) {
      const want = Math.min(pageRows, limit - rows.length)
      const page = await this.readAfter(after, want)
      for (const row of page) rows.push(row)
      if (page.length < want) return { rows, caughtUp: true }
      const [xact, seq] = page[page.length - 1]!
      after = { xact: BigInt(xact), seq: BigInt(seq) }
    }
    return { rows, caughtUp: false }
  }

  /** Up to `limit` identity messages after `position`, in commit order. */
  async readIdentities(position: FeedPosition, limit: number): Promise<IdentityRow[]> {
    const { rows } = await this.db.query<IdentityRow>(IDENTITIES_AFTER, [
      position.xact.toString(),
      position.seq.toString(),
      limit,
      this.project,
    ])
    return rows
  }

  /** Up to `limit` finished deletions after `position`, in the order they finished. */
  async readDeletions(position: FeedPosition, limit: number): Promise<DeletionRow[]> {
    const { rows } = await this.db.query<DeletionRow>(DELETIONS_AFTER, [
      position.xact.toString(),
      position.seq.toString(),
      limit,
      this.project,
    ])
    return rows
  }

  /** What the replica removed for a deletion, for GET /deletions/{id}. */
  async reportDeletion(id: string, events: number): Promise<void> {
    await this.db.query(
      'UPDATE deletions SET replica_events = $2, replica_applied_at = now() WHERE id = $1::uuid',
      [id, events],
    )
  }

  /** This store's identity, and the next transaction id it will hand out. */
  async source(): Promise<{ id: string; nextXact: bigint }> {
    const { rows } = await this.db.query<{ id: string; next: string }>(
      'SELECT (SELECT id::text FROM store_identity) AS id, pg_snapshot_xmax(pg_current_snapshot())::text AS next',
    )
    return { id: rows[0]!.id, nextXact: BigInt(rows[0]!.next) }
  }

  async lag(position: FeedPosition): Promise<{ rows: number; ms: number }> {
    const { rows } = await this.db.query<{ rows: number; ms: number | null }>(LAG, [
      position.xact.toString(),
      position.seq.toString(),
      LAG_CAP,
      this.project,
    ])
    return { rows: rows[0]!.rows, ms: Math.max(0, Math.round(Number(rows[0]!.ms ?? 0))) }
  }
}
