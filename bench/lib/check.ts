import type { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import type { Engine } from './engine.ts'

// Exactly-once, checked at the end of every run: the store holds every
// accepted event once and nothing else, and the replica behind /stats holds the
// same events. The replica keeps no event ids, so it is compared with the store
// per user (count and sum of instants, to the microsecond) and per (day, event
// type): an event lost and another repeated would have to share a user and an
// instant to go unnoticed.

const ROLLUPS = [
  'users',
  'day_users_bitmaps',
  'day_users_pending',
  'day_type_users_bitmaps',
  'day_type_users_pending',
  'type_day_counts',
]

/** What the store must hold: the rows of a reference table, or (seeded in SQL, ids unknown) a count. */
export type Expected =
  | { table: string; compareContent: boolean; count: number }
  | { count: number; markerIds: readonly string[] }

export interface CheckResult {
  store: { engine: string; events: number; expected: number; problems: string[] }
  /** tables: row counts of the replica's tables, to see how its rollups grow (type_day_counts gains rows with every sync chunk) */
  replica: { rows: number; syncedRows: number; tables: Record<string, number>; problems: string[] }
  ok: boolean
}

export async function checkExactlyOnce(
  engine: Engine,
  replica: DuckDbReplica,
  expected: Expected,
): Promise<CheckResult> {
  const store = await checkStore(engine, expected)
  const replicaResult = await checkReplica(engine, replica, store.events)
  return {
    store,
    replica: replicaResult,
    ok: store.problems.length === 0 && replicaResult.problems.length === 0,
  }
}

async function checkStore(engine: Engine, expected: Expected): Promise<CheckResult['store']> {
  const problems: string[] = []
  const store = engine.label
  const [totals] = await engine.query<{ n: string; ids: string }>(
    'SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM events',
  )
  const events = Number(totals!.n)
  const repeated = events - Number(totals!.ids)
  if (repeated > 0) problems.push(`${store} holds ${int(repeated)} event id(s) more than once`)
  if ('table' in expected) {
    const [diff] = await engine.query<{
      missing: string
      unexpected: string
      differing: string
      missing_ids: string[] | null
      unexpected_ids: string[] | null
    }>(`
      SELECT count(*) FILTER (WHERE s.event_id IS NULL) AS missing,
             count(*) FILTER (WHERE x.event_id IS NULL) AS unexpected,
             count(*) FILTER (WHERE s.event_id IS NOT NULL AND x.event_id IS NOT NULL AND ${
               expected.compareContent
                 ? '(s.occurred_at, s.user_id, s.event_type, s.properties) IS DISTINCT FROM (x.occurred_at, x.user_id, x.event_type, x.properties)'
                 : 'false'
             }) AS differing,
             (array_agg(x.event_id::text) FILTER (WHERE s.event_id IS NULL))[1:3] AS missing_ids,
             (array_agg(s.event_id::text) FILTER (WHERE x.event_id IS NULL))[1:3] AS unexpected_ids
      FROM events s FULL JOIN ${expected.table} x ON s.event_id = x.event_id`)
    const missing = Number(diff!.missing)
    const unexpected = Number(diff!.unexpected)
    const differing = Number(diff!.differing)
    if (missing > 0)
      problems.push(
        `${store} is missing ${int(missing)} of the ${int(expected.count)} accepted events (e.g. ${diff!.missing_ids!.join(', ')})`,
      )
    if (unexpected > 0)
      problems.push(
        `${store} holds ${int(unexpected)} event(s) that were never accepted (e.g. ${diff!.unexpected_ids!.join(', ')})`,
      )
    if (differing > 0)
      problems.push(`${int(differing)} event(s) were stored differently from how they were sent`)
  } else {
    if (events !== expected.count) {
      const verb = events < expected.count ? 'is missing' : 'has'
      problems.push(
        `${store} ${verb} ${int(Math.abs(events - expected.count))} event(s) ${events < expected.count ? 'of' : 'more than'} the ${int(expected.count)} expected (holds ${int(events)})`,
      )
    }
    const [found] = await engine.query<{ n: string }>(
      'SELECT count(*) AS n FROM events WHERE event_id = ANY($1::uuid[])',
      [expected.markerIds],
    )
    if (Number(found!.n) !== expected.markerIds.length) {
      problems.push(
        `${store} holds ${found!.n} of the ${expected.markerIds.length} freshness markers`,
      )
    }
  }
  return { engine: engine.label, events, expected: expected.count, problems }
}

async function checkReplica(
  engine: Engine,
  replica: DuckDbReplica,
  storeEvents: number,
): Promise<CheckResult['replica']> {
  const problems: string[] = []
  const store = engine.label
  const syncedRows = Number((await replica.cursor()).syncedRows)
  const [{ n }] = (await replica.query<{ n: bigint }>('SELECT count(*) AS n FROM events')) as [
    { n: bigint },
  ]
  const rows = Number(n)
  if (rows !== storeEvents)
    problems.push(`the DuckDB replica holds ${int(rows)} events, ${store} ${int(storeEvents)}`)
  if (syncedRows !== rows)
    problems.push(
      `the replica's cursor counts ${int(syncedRows)} synced rows but it holds ${int(rows)}`,
    )

  const pgUsers = await engine.query<{ k: string; n: string; t: string }>(`
    SELECT user_id AS k, count(*)::text AS n, sum((extract(epoch FROM occurred_at) * 1000000)::bigint)::text AS t
    FROM events GROUP BY user_id`)
  const duckUsers = await replica.query<{ k: string; n: string; t: string }>(`
    SELECT u.user_id AS k, count(*)::VARCHAR AS n, sum(epoch_us(e.occurred_at))::VARCHAR AS t
    FROM events e JOIN users u USING (user_key) GROUP BY u.user_id`)
  compareKeyed(
    store,
    'user',
    pgUsers,
    duckUsers,
    (r) => `${r.n} events, instants summing to ${r.t} µs`,
    problems,
  )

  const pgDays = await engine.query<{ k: string; n: string }>(`
    SELECT (occurred_at AT TIME ZONE 'UTC')::date::text || ' ' || event_type AS k, count(*)::text AS n
    FROM events GROUP BY 1`)
  const duckDays = await replica.query<{ k: string; n: string }>(`
    SELECT day::VARCHAR || ' ' || event_type AS k, sum(events)::VARCHAR AS n FROM type_day_counts GROUP BY 1`)
  compareKeyed(store, '(day, event type) count', pgDays, duckDays, (r) => `${r.n}`, problems)
  const [sizes] = await replica.query<Record<string, bigint>>(
    `SELECT ${ROLLUPS.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')}`,
  )
  const tables = Object.fromEntries(ROLLUPS.map((t) => [t, Number(sizes![t])]))
  return { rows, syncedRows, tables, problems }
}

/** Adds one problem naming how many keys differ and a few examples. */
function compareKeyed<R extends { k: string }>(
  storeName: string,
  what: string,
  store: R[],
  replica: R[],
  show: (r: R) => string,
  problems: string[],
): void {
  const fromReplica = new Map(replica.map((r) => [r.k, r]))
  const examples: string[] = []
  let differing = 0
  for (const row of store) {
    const other = fromReplica.get(row.k)
    fromReplica.delete(row.k)
    if (other && show(other) === show(row)) continue
    differing++
    if (examples.length < 3)
      examples.push(
        `${row.k}: ${storeName} ${show(row)}, replica ${other ? show(other) : 'nothing'}`,
      )
  }
  for (const row of fromReplica.values()) {
    differing++
    if (examples.length < 3) examples.push(`${row.k}: ${storeName} nothing, replica ${show(row)}`)
  }
  if (differing > 0)
    problems.push(
      `the replica differs from ${storeName} for ${int(differing)} ${what}(s): ${examples.join('; ')}`,
    )
}

const int = (n: number): string => n.toLocaleString('en-US')
