import pg from 'pg'
import { DEFAULT_PROJECT_ID } from '../../src/projects/project-store.ts'
import type { DatasetKind } from './dataset.ts'
import type { IdVersion } from './realistic.ts'
import { seedRealistic, V7_FROM } from './seed-realistic.ts'

export interface SeedOptions {
  dataset: DatasetKind
  ids: IdVersion
  events: number
  users: number
  days: number
  /** the last day of the data set (UTC, YYYY-MM-DD); events fall in the `days` days ending with it */
  lastDay: string
  /** the project the events go to (1, the default, unless --projects) */
  project?: number
  /** user u is named user-(u + userOffset) */
  userOffset?: number
}

// Generated inside PostgreSQL: ten million rows over the wire from Node would
// measure the generator, not the service. The realistic data set is
// seed-realistic.ts; this is the friendly one. Users are skewed (a few are very
// active: user = users × r²), event types follow rough real-world weights, and
// each million rows is its own transaction, as a stream of batches would be.
const SEED_CHUNK = `
INSERT INTO events (event_id, occurred_at, user_id, event_type, properties, project_id)
SELECT CASE WHEN $5::boolean THEN ${V7_FROM('at')} ELSE gen_random_uuid() END, at,
       'user-' || (floor($4::int * power(random(), 2))::int + $7::int),
       CASE WHEN r < 0.55 THEN 'page_view' WHEN r < 0.75 THEN 'click' WHEN r < 0.85 THEN 'search'
            WHEN r < 0.91 THEN 'add_to_cart' WHEN r < 0.95 THEN 'login' WHEN r < 0.975 THEN 'purchase'
            WHEN r < 0.99 THEN 'signup' ELSE 'share' END,
       jsonb_build_object('country', (ARRAY['UA','PL','DE','US','FR'])[1 + floor(random() * 5)::int], 'plan', CASE WHEN random() < 0.2 THEN 'pro' ELSE 'free' END),
       $6::int
FROM (SELECT random() AS r, ($2::date - ($3::int - 1)) + random() * ($3::int * INTERVAL '1 day') AS at FROM generate_series(1, $1::int)) g`

/** Seeds an empty events table; returns the rows inserted. */
export async function seedEvents(
  databaseUrl: string,
  options: SeedOptions,
  onProgress: (done: number) => void,
): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const project = options.project ?? DEFAULT_PROJECT_ID
    // The day or month tables first (migration 011), as the service's writers make them.
    await client.query(
      `SELECT ensure_event_partitions(array_agg($1::int), array_agg(d AT TIME ZONE 'UTC'), NULL)
       FROM generate_series($2::date - $3::int, $2::date, interval '1 day') d`,
      [project, options.lastDay, options.days],
    )
    let done = 0
    if (options.dataset === 'realistic') done = await seedRealistic(client, options, onProgress)
    else {
      while (done < options.events) {
        const n = Math.min(1_000_000, options.events - done)
        await client.query(SEED_CHUNK, [
          n,
          options.lastDay,
          options.days,
          options.users,
          options.ids === 'v7',
          options.project ?? DEFAULT_PROJECT_ID,
          options.userOffset ?? 0,
        ])
        done += n
        onProgress(done)
      }
    }
    // Their keys, as every writer inserts them: the service's idempotency.
    await client.query(
      'INSERT INTO event_keys (project_id, event_id) SELECT project_id, event_id FROM events WHERE project_id = $1 ON CONFLICT DO NOTHING',
      [project],
    )
    await client.query('ANALYZE events')
    await client.query('ANALYZE event_keys')
    return done
  } finally {
    await client.end()
  }
}
