import type { Socket } from 'node:net'
import type pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { SUPPRESSION_LOCK } from '../deletion/deletion-store.ts'
import { EVENTS_CHANNEL } from './event-notifications.ts'
import { type EventPartitions, partitionKeysOfCopy } from './event-partitions.ts'

/** The insert-time check of a user's deletion (migration 008): rows of suppressed ids are not stored. */
export const NOT_SUPPRESSED = (rows: string) =>
  `NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.project_id = ${rows}.project_id AND s.user_id = ${rows}.user_id)`

// COPY has no ON CONFLICT, and events, partitioned (migration 011), has no
// unique key: event_keys holds it. A batch is first copied straight into
// events and its keys inserted from the rows this transaction wrote (found
// by the (project_id, xact_id, seq) index), which succeeds whenever none of
// its ids is stored yet (the common case: the API drops ids already stored);
// on a unique violation the transaction is rolled back and the batch goes
// through a staging table, where one statement inserts the keys skipping
// those stored already and stores the rows whose key it inserted. Either
// way the first stored version of an (id, project) wins; a batch holds one
// version of each already (CopyBatch.finish()). Measured on 200k realistic
// events before partitioning: PostgreSQL spent 0.9 s of CPU on a straight
// COPY, 1.4 s through staging and 2.0-2.7 s on INSERT ... unnest of the same
// rows, whose bound arrays also cost the client ~3 s to escape and serialise.
const COPY_EVENTS =
  'COPY events (event_id, project_id, occurred_at, user_id, event_type, properties) FROM STDIN (FORMAT binary)'
// Wakes the stats process's sync on commit (delivered only then, so a
// listener never reads before the rows exist), once per batch that stored any.
const NOTIFIED = (notify: boolean) =>
  notify
    ? `LEFT JOIN LATERAL (SELECT pg_notify('${EVENTS_CHANNEL}', '') WHERE counted.inserted > 0) notified ON true`
    : ''

// Suppressed ids get no key and their rows go ($1: the batch's projects), in
// the statement that notifies, so the check costs no round trip. Keys go in
// (project, id) order, as every writer inserts them, so none of them deadlock.
const KEY_COPIED = (notify: boolean) => `
WITH keyed AS (
  INSERT INTO event_keys (project_id, event_id)
  SELECT project_id, event_id FROM events e
  WHERE e.project_id = ANY($1::int[]) AND e.xact_id = pg_current_xact_id() AND ${NOT_SUPPRESSED('e')}
  ORDER BY project_id, event_id
  RETURNING 1
), dropped AS (
  DELETE FROM events e USING suppressions s
  WHERE e.project_id = s.project_id AND e.project_id = ANY($1::int[])
    AND e.xact_id = pg_current_xact_id() AND e.user_id = s.user_id
), counted AS (SELECT count(*)::int AS inserted FROM keyed)
SELECT counted.inserted FROM counted ${NOTIFIED(notify)}`

/**
 * One statement storing the rows of `rows` (a FROM item aliased b with the
 * events' six columns) whose key is new: the keys go into event_keys first
 * (in (project, id) order, as every writer's, so racing writers wait for each
 * other instead of deadlocking; ON CONFLICT lets the key decide, with no
 * check-then-insert window), then the rows whose key was inserted, in id
 * order, as a straight COPY's are: seq breaks ties between events of the same
 * instant by event_id (the funnels' and paths' order). Ids being deleted get
 * no key (the suppressions of migration 008): this check, not intake's cached
 * one, is the one that holds.
 */
export const INSERT_KEYED = (rows: string, notify: boolean) => `
WITH keyed AS (
  INSERT INTO event_keys (project_id, event_id)
  SELECT b.project_id, b.event_id FROM ${rows} WHERE ${NOT_SUPPRESSED('b')}
  ORDER BY 1, 2
  ON CONFLICT DO NOTHING
  RETURNING project_id, event_id
), stored AS (
  INSERT INTO events (event_id, project_id, occurred_at, user_id, event_type, properties)
  SELECT b.event_id, b.project_id, b.occurred_at, b.user_id, b.event_type, b.properties
  FROM ${rows} JOIN keyed k USING (project_id, event_id)
  ORDER BY b.event_id, b.project_id
  RETURNING 1
), counted AS (SELECT count(*)::int AS inserted FROM stored)
SELECT counted.inserted FROM counted ${NOTIFIED(notify)}`

const CREATE_STAGING = `
CREATE TEMP TABLE IF NOT EXISTS events_staging (
  event_id uuid, project_id integer, occurred_at timestamptz, user_id text, event_type text, properties jsonb
) ON COMMIT DELETE ROWS`
const COPY_STAGING =
  'COPY events_staging (event_id, project_id, occurred_at, user_id, event_type, properties) FROM STDIN (FORMAT binary)'
const INSERT_STAGED = (notify: boolean) => INSERT_KEYED('events_staging b', notify)

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
 * Inserts COPY data into events on a connection it is given, once the day,
 * week or month tables its rows need exist (migration 011; `partitions` is
 * the store's, shared with its other writes). `notify` wakes the stats
 * process's sync with the commit.
 */
export class CopyInserter {
  private direct = true
  private readonly staged = new WeakSet<pg.ClientBase>()

  constructor(
    private readonly options: { notify: boolean; timeoutMs: number; partitions: EventPartitions },
  ) {}

  /**
   * Stores the batch; returns the events stored. Remembers whether the next
   * batch is tried straight into events: cleared by a batch holding stored
   * ids, set again by one that held none.
   */
  async insert(client: pg.ClientBase, copy: CopyData): Promise<number> {
    if (copy.rows === 0) return 0
    const keys = partitionKeysOfCopy(copy)
    await this.options.partitions.ensure(client, keys)
    const { notify } = this.options
    if (this.direct) {
      try {
        return await transaction(client, async () => {
          await this.copy(client, COPY_EVENTS, copy.data)
          const { rows } = await client.query<{ inserted: number }>(KEY_COPIED(notify), [
            [...new Set(keys.map((k) => k.project))],
          ])
          return rows[0]!.inserted
        })
      } catch (err) {
        if ((err as { code?: string }).code !== '23505') throw err
        this.direct = false
      }
    }
    if (!this.staged.has(client)) {
      await client.query(CREATE_STAGING)
      this.staged.add(client)
    }
    const inserted = await transaction(client, async () => {
      await this.copy(client, COPY_STAGING, copy.data)
      const { rows } = await client.query<{ inserted: number }>(INSERT_STAGED(notify))
      return rows[0]!.inserted
    })
    this.direct = inserted === copy.rows
    return inserted
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
