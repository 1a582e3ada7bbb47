import type pg from 'pg'
import type { SqlClient } from '../store/sql-client.ts'
import { coveredIds } from './covered-ids.ts'

export type DeletionState = 'queued' | 'running' | 'done'

/** A deletion as GET /deletions/{id} and the CLI show it. */
export interface Deletion {
  deletion_id: string
  project_id: number
  user_id: string
  ids: string[]
  state: DeletionState
  requested_by: string
  requested_at: string
  finished_at: string | null
  /** events removed from PostgreSQL so far */
  store_events: number
  /** identify and alias calls removed with them (the profile) */
  identity_messages: number
  /** events removed from ARCHIVE_DIR's files; null without an archive (or until done) */
  archive_events: number | null
  /** events the replica removed when it applied the deletion; null until one has */
  replica_events: number | null
  replica_applied_at: string | null
}

export interface AuditRow {
  action: 'deletion_requested' | 'deletion_done' | 'suppression_lifted'
  actor: string
  deletion_id: string | null
  ids: string[]
  events: number | null
  at: string
}

/**
 * Writers take this lock shared for the length of their insert transaction
 * (copy-insert.ts), a deletion request takes it exclusively while it commits
 * its suppressions: every insert either committed before the request (so the
 * deletion's scan finds its rows) or reads the suppressions after it (so it
 * stores none of them). Embedded, PGlite runs one statement at a time.
 */
export const SUPPRESSION_LOCK = 7_256_013_977_001

const COLUMNS = `id::text AS deletion_id, project_id, user_id, ids, state, requested_by,
  to_char(requested_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS requested_at,
  to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS finished_at,
  store_events::int AS store_events, identity_messages::int AS identity_messages,
  archive_events::int AS archive_events, replica_events::int AS replica_events,
  to_char(replica_applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS replica_applied_at`

// One statement: the job, its suppressions, the version the caches compare
// and the audit row commit together, or none of them does.
const REQUEST = `
WITH d AS (
  INSERT INTO deletions (project_id, user_id, ids, requested_by) VALUES ($1, $2, $3::text[], $4)
  RETURNING *
), s AS (
  INSERT INTO suppressions (project_id, user_id, deletion_id)
  SELECT d.project_id, unnest(d.ids), d.id FROM d
  ON CONFLICT (project_id, user_id) DO UPDATE SET deletion_id = excluded.deletion_id, created_at = now()
  RETURNING 1
), v AS (
  UPDATE suppressions_version SET version = version + 1 RETURNING version
), a AS (
  INSERT INTO deletion_audit (project_id, action, actor, deletion_id, ids)
  SELECT project_id, 'deletion_requested', requested_by, id, ids FROM d
  RETURNING 1
)
SELECT d.id::text AS id, (SELECT count(*) FROM s)::int AS suppressed, (SELECT version FROM v)::text AS version,
       (SELECT count(*) FROM a)::int AS audited
FROM d`

const LIFT = `
WITH l AS (
  DELETE FROM suppressions WHERE project_id = $1 AND user_id = $2 RETURNING user_id, deletion_id
), v AS (
  UPDATE suppressions_version SET version = version + 1 WHERE EXISTS (SELECT 1 FROM l) RETURNING version
), a AS (
  INSERT INTO deletion_audit (project_id, action, actor, deletion_id, ids)
  SELECT $1, 'suppression_lifted', $3, deletion_id, ARRAY[user_id] FROM l
  RETURNING 1
)
SELECT l.user_id, (SELECT count(*) FROM v)::int AS bumped, (SELECT count(*) FROM a)::int AS audited FROM l`

export class DeletionNotDone extends Error {
  constructor(readonly deletionId: string) {
    super(`deletion ${deletionId} of this id is still running`)
  }
}

/** The deletions table and its suppressions and audit (migration 008). */
export class DeletionStore {
  constructor(private readonly db: SqlClient) {}

  /** Records the deletion of `userId`'s person and suppresses its ids, at once. */
  async request(project: number, userId: string, requestedBy: string): Promise<Deletion> {
    const ids = await coveredIds(this.db, project, userId)
    const { rows } = await this.exclusive((q) =>
      q<{ id: string }>(REQUEST, [project, userId, ids, requestedBy]),
    )
    return (await this.get(project, rows[0]!.id))!
  }

  async get(project: number, id: string): Promise<Deletion | undefined> {
    const { rows } = await this.db.query<Deletion>(
      `SELECT ${COLUMNS} FROM deletions WHERE project_id = $1 AND id = $2::uuid`,
      [project, id],
    )
    return rows[0]
  }

  /** Lifts the suppression of one id; false when it had none. Refused while its deletion runs. */
  async lift(project: number, userId: string, actor: string): Promise<boolean> {
    const { rows: open } = await this.db.query<{ id: string }>(
      `SELECT d.id::text AS id FROM suppressions s JOIN deletions d ON d.id = s.deletion_id
       WHERE s.project_id = $1 AND s.user_id = $2 AND d.state <> 'done'`,
      [project, userId],
    )
    if (open[0]) throw new DeletionNotDone(open[0].id)
    const { rows } = await this.db.query<{ user_id: string }>(LIFT, [project, userId, actor])
    return rows.length > 0
  }

  /** The project's audit rows, oldest first. */
  async audit(project: number): Promise<AuditRow[]> {
    const { rows } = await this.db.query<AuditRow>(
      `SELECT action, actor, deletion_id::text AS deletion_id, ids, events::int AS events,
              to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at
       FROM deletion_audit WHERE project_id = $1 ORDER BY id`,
      [project],
    )
    return rows
  }

  /** In a transaction holding SUPPRESSION_LOCK exclusively (server); PGlite has no concurrent writer. */
  private async exclusive<R>(
    work: (q: <T>(text: string, values: unknown[]) => Promise<{ rows: T[] }>) => Promise<R>,
  ): Promise<R> {
    if (!this.db.connect) return work((text, values) => this.db.query(text, values))
    const client: pg.PoolClient = await this.db.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1)', [SUPPRESSION_LOCK])
      const result = await work(async (text, values) => {
        const r = await client.query(text, values)
        return { rows: r.rows }
      })
      await client.query('COMMIT')
      client.release()
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      client.release(err as Error)
      throw err
    }
  }
}
