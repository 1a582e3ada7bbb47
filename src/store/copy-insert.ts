import type { Socket } from 'node:net'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { SUPPRESSION_LOCK } from '../deletion/deletion-store.ts'
import { EVENTS_CHANNEL } from './event-notifications.ts'
import { EventPartitions, partitionKeysOfCopy } from './event-partitions.ts'

/** The insert-time check of a user's deletion (migration 008): rows of suppressed ids are not stored. */
export const NOT_SUPPRESSED = (rows: string) =>
  `NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.project_id = ${rows}.project_id AND s.user_id = ${rows}.user_id)`

// COPY has no ON CONFLICT, and events, partitioned (migration 011), has no
// unique key: a batch goes through a staging table, then one statement
// inserts its keys into event_keys, skipping those stored already, and
// stores the rows whose key it inserted, so the first stored version of an
// (id, project) wins, in the batch (ord) as across batches. Measured on 200k
// realistic events (docs/performance.md), before partitioning: PostgreSQL
// spent 0.9 s of CPU on a straight COPY into events, 1.4 s through staging and
// 2.0-2.7 s on INSERT ... unnest of the same rows, whose bound arrays also
// cost the client ~3 s to escape and serialise.
const CREATE_STAGING = `
CREATE TEMP TABLE IF NOT EXISTS events_staging (
  event_id uuid, project_id integer, occurred_at timestamptz, user_id text, event_type text, properties jsonb,
  ord bigint GENERATED ALWAYS AS IDENTITY
) ON COMMIT DELETE ROWS`
const COPY_STAGING =
  'COPY events_staging (event_id, project_id, occurred_at, user_id, event_type, properties) FROM STDIN (FORMAT binary)'
// Keys in (project, id) order, as every other writer inserts them, so none of
// them deadlock. A later copy of an id in the same batch is left out by ord.
const INSERT_STAGED = (notify: boolean) => `
WITH keyed AS (
  INSERT INTO event_keys (project_id, event_id)
  SELECT project_id, event_id FROM events_staging WHERE ${NOT_SUPPRESSED('events_staging')}
  ORDER BY project_id, event_id
  ON CONFLICT DO NOTHING
  RETURNING project_id, event_id
), stored AS (
  INSERT INTO events (event_id, project_id, occurred_at, user_id, event_type, properties)
  SELECT s.event_id, s.project_id, s.occurred_at, s.user_id, s.event_type, s.properties
  FROM events_staging s JOIN keyed k USING (project_id, event_id)
  WHERE NOT EXISTS (SELECT 1 FROM events_staging d
                    WHERE d.project_id = s.project_id AND d.event_id = s.event_id AND d.ord < s.ord)
  RETURNING 1
), counted AS (SELECT count(*)::int AS inserted FROM stored)
SELECT counted.inserted FROM counted
${notify ? `LEFT JOIN LATERAL (SELECT pg_notify('${EVENTS_CHANNEL}', '') WHERE counted.inserted > 0) notified ON true` : ''}`
// Held shared for the insert's transaction; a deletion request takes it
// exclusively (deletion-store.ts), so no insert straddles the request. Sent
// with BEGIN, in one round trip.
const BEGIN_LOCKED = `BEGIN; SELECT pg_advisory_xact_lock_shared(${SUPPRESSION_LOCK})`

export interface CopyData {
  /** a whole binary COPY stream (CopyBatch.finish()) */
  data: Buffer
  rows: number
}

/**
 * Inserts COPY data into events on a connection it is given, once the day or
 * month tables its rows need exist (migration 011). `notify` wakes the stats process's sync with the
 * commit, as INSERT_BATCH does.
 */
export class CopyInserter {
  private readonly staged = new WeakSet<pg.ClientBase>()
  private readonly partitions: EventPartitions

  constructor(
    private readonly options: { notify: boolean; timeoutMs: number; retentionDays: number | null },
  ) {
    this.partitions = new EventPartitions(options.retentionDays)
  }

  async insert(client: pg.ClientBase, copy: CopyData): Promise<number> {
    if (copy.rows === 0) return 0
    await this.partitions.ensure(client, partitionKeysOfCopy(copy))
    if (!this.staged.has(client)) {
      await client.query(CREATE_STAGING)
      this.staged.add(client)
    }
    return transaction(client, async () => {
      await this.copy(client, COPY_STAGING, copy.data)
      const result = await client.query<{ inserted: number }>(INSERT_STAGED(this.options.notify))
      return result.rows[0]!.inserted
    })
  }

  /**
   * The client's query timeout does not cover a COPY stream: past the bound the
   * connection is cut, and the error reads like that timeout, which the worker
   * takes for an outage and retries.
   */
  private copy(client: pg.ClientBase, sql: string, data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error('Query read timeout'))
        socketOf(client).destroy()
      }, this.options.timeoutMs)
      const stream = client.query(copyFrom(sql))
      stream
        .on('finish', () => {
          clearTimeout(timer)
          resolve()
        })
        .on('error', (err) => {
          clearTimeout(timer)
          reject(err)
        })
      stream.end(data)
    })
  }
}

async function transaction<T>(client: pg.ClientBase, work: () => Promise<T>): Promise<T> {
  await client.query(BEGIN_LOCKED)
  try {
    const result = await work()
    await client.query('COMMIT')
    return result
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {})
    throw err
  }
}

export function socketOf(client: pg.ClientBase): Socket {
  return (client as unknown as { connection: { stream: Socket } }).connection.stream
}
