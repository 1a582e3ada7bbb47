import type { Logger } from '../logger.ts'
import type { SqlClient, SqlResult } from './sql-client.ts'

export interface OriginCheck {
  /** the rows were re-keyed: the store was restored or moved from elsewhere */
  rekeyed: boolean
  events: number
  identities: number
}

// A restored row's xact_id is a transaction id of the cluster it came from.
// Given the transaction that notices the move, every row is again an older
// transaction than any to come: the sync reads them once that commits, and
// the new store id (store_identity.id) makes every replica built from the
// old rows rebuild itself (AnalyticsSync.init) instead of trusting its cursor.
const REKEY = [
  'UPDATE events SET xact_id = pg_current_xact_id()',
  'UPDATE identity_messages SET xact_id = pg_current_xact_id()',
  // deletions (migration 008): a job waits for transactions older than its
  // request, and replicas read finished ones in finished_xact order
  `UPDATE deletions SET requested_xact = pg_current_xact_id(),
     finished_xact = CASE WHEN finished_xact IS NULL THEN NULL ELSE pg_current_xact_id() END`,
] as const

/**
 * Checks that the store runs where its rows were written (migration 009) and
 * re-keys them when it does not: a pg_dump restored into another cluster or
 * database. One process does it; the others wait on the row lock and find it
 * done. A copied DATA_DIR (embedded) is the same cluster and database: nothing
 * to do. Costs one rewrite of the events table, once, after a restore.
 */
export async function checkStoreOrigin(db: SqlClient, log: Logger): Promise<OriginCheck> {
  return inTransaction(db, async (query) => {
    const rows = async <R>(text: string) => (await query<R>(text)).rows
    const [recorded] = await rows<{
      system_identifier: string | null
      database_oid: string | null
    }>('SELECT system_identifier, database_oid::text FROM store_identity FOR UPDATE')
    const [here] = await rows<{ system_identifier: string; database_oid: string }>(
      `SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system_identifier,
              (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS database_oid`,
    )
    const none = { rekeyed: false, events: 0, identities: 0 }
    if (!recorded || !here) return none
    if (
      recorded.system_identifier === here.system_identifier &&
      recorded.database_oid === here.database_oid
    )
      return none
    // First recorded (a store older than migration 009): it moved only if a
    // row names a transaction this cluster has not reached, which the
    // cluster it was written in never could.
    const moved =
      recorded.system_identifier !== null ||
      (
        await rows<{ ahead: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM events WHERE xact_id >= pg_snapshot_xmax(pg_current_snapshot()))
              OR EXISTS (SELECT 1 FROM identity_messages WHERE xact_id >= pg_snapshot_xmax(pg_current_snapshot())) AS ahead`,
        )
      )[0]!.ahead
    let counts = none
    if (moved) {
      const started = performance.now()
      const events = (await query(REKEY[0])).rowCount
      const identities = (await query(REKEY[1])).rowCount
      await query(REKEY[2])
      await query('UPDATE store_identity SET id = gen_random_uuid()')
      counts = { rekeyed: true, events, identities }
      log.warn(
        {
          from: recorded,
          here,
          events,
          identities,
          ms: Math.round(performance.now() - started),
        },
        'the store was restored or moved from another cluster or database: its rows were given new transaction ids, and the analytics replica rebuilds',
      )
    }
    await query('UPDATE store_identity SET system_identifier = $1, database_oid = $2::oid', [
      here.system_identifier,
      here.database_oid,
    ])
    return counts
  })
}

type Query = <R>(text: string, values?: unknown[]) => Promise<SqlResult<R>>

/** `work` in one transaction: a server's connection of its own, or PGlite's only one (nothing else runs at open). */
async function inTransaction<T>(db: SqlClient, work: (query: Query) => Promise<T>): Promise<T> {
  const client = db.connect ? await db.connect() : undefined
  const query: Query = async <R>(text: string, values: unknown[] = []) => {
    if (!client) return db.query<R>(text, values)
    const r = await client.query(text, values)
    return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 }
  }
  try {
    await query('BEGIN')
    const result = await work(query)
    await query('COMMIT')
    return result
  } catch (err) {
    await query('ROLLBACK').catch(() => {})
    throw err
  } finally {
    client?.release()
  }
}
