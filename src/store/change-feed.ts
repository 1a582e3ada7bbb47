import type pg from 'pg'

/** A committed row as the analytics sync needs it; days are UTC, counted from 1970-01-01. */
export interface ChangedRow {
  xact: string
  seq: string
  day: number
  occurredAtMicros: string
  userId: string
  eventType: string
}

export interface FeedPosition {
  xact: bigint
  seq: bigint
}

// Reads rows in (xact_id, seq) order, and only from transactions older than the
// oldest one still running (the snapshot's xmin). A row written by a transaction
// that began earlier but commits later therefore waits until it is visible,
// instead of being skipped by a cursor that has already moved past its seq.
// The day and the microsecond timestamp are computed here, once, so the
// replica never converts time zones.
const READ_AFTER = `
SELECT xact_id::text AS xact, seq::text AS seq,
       ((occurred_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01') AS day,
       (extract(epoch FROM occurred_at) * 1000000)::bigint::text AS micros,
       user_id, event_type
FROM events
WHERE (xact_id, seq) > ($1::text::xid8, $2::bigint)
  AND xact_id < pg_snapshot_xmin(pg_current_snapshot())
ORDER BY events.xact_id, events.seq -- qualified: a bare "seq" would sort by the text alias
LIMIT $3`

// How far behind a position is: rows not yet copied (capped, so a replica that
// is far behind does not make this expensive) and the age of the oldest one.
const LAG = `
SELECT count(*)::int AS rows, extract(epoch FROM now() - min(received_at)) * 1000 AS ms
FROM (
  SELECT received_at FROM events
  WHERE (xact_id, seq) > ($1::text::xid8, $2::bigint)
  ORDER BY xact_id, seq
  LIMIT $3
) behind`

export const LAG_CAP = 1_000_000

export class PostgresChangeFeed {
  constructor(private readonly pool: pg.Pool) {}

  async readAfter(position: FeedPosition, limit: number): Promise<ChangedRow[]> {
    const { rows } = await this.pool.query<{ xact: string; seq: string; day: number; micros: string; user_id: string; event_type: string }>(
      READ_AFTER,
      [position.xact.toString(), position.seq.toString(), limit],
    )
    return rows.map((r) => ({ xact: r.xact, seq: r.seq, day: r.day, occurredAtMicros: r.micros, userId: r.user_id, eventType: r.event_type }))
  }

  async lag(position: FeedPosition): Promise<{ rows: number; ms: number }> {
    const { rows } = await this.pool.query<{ rows: number; ms: number | null }>(LAG, [position.xact.toString(), position.seq.toString(), LAG_CAP])
    return { rows: rows[0]!.rows, ms: Math.max(0, Math.round(Number(rows[0]!.ms ?? 0))) }
  }
}
