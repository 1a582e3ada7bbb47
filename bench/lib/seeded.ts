import pg from 'pg'
import { type CpuBreakdown, CpuProbe } from './cpu-probe.ts'
import { openPostgres } from './engine.ts'
import { waitQueryable } from './http.ts'
import type { BenchOptions } from './options.ts'
import type { BenchReport } from './report.ts'
import type { Progress } from './run.ts'
import { seedEvents } from './seed.ts'
import type { Service } from './service.ts'

// Data seeded inside PostgreSQL (--seed-sql, --reads-under-load), or found
// there (--database), and the service's replica built from it.

export interface Seeded {
  /** the last day with events (UTC); the queries' ranges end with it */
  lastDay: string
  /** events in the store */
  count: number
  /** undefined when the database already held events */
  seededMs: number | undefined
}

/** Seeds an empty database, or reuses the events of one seeded before (--database). */
export async function seedData(
  options: BenchOptions,
  databaseUrl: string,
  progress: Progress,
): Promise<Seeded> {
  const engine = openPostgres(databaseUrl, 1)
  try {
    let count = Number(
      (await engine.query<{ n: string }>('SELECT count(*) AS n FROM events'))[0]!.n,
    )
    let seededMs: number | undefined
    if (count === 0) {
      // Ends yesterday: an event later today would be in the future for the API's rules.
      const lastDay = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)
      progress(
        `seeding ${options.events} ${options.dataset} events into PostgreSQL (INSERT … SELECT, about 1M rows per transaction)`,
      )
      const started = performance.now()
      const seed = {
        dataset: options.dataset,
        ids: options.ids,
        events: options.events,
        users: options.users,
        days: options.days,
        lastDay,
      }
      count = await seedEvents(databaseUrl, seed, (done) => progress(`  ${done} rows`))
      seededMs = performance.now() - started
    } else {
      // The check then expects exactly these plus the run's markers.
      progress(
        `reusing the ${count} events already in the database${count === options.events ? '' : ` (not --events ${options.events})`}`,
      )
    }
    const [{ day }] = (await engine.query<{ day: string }>(
      `SELECT max(occurred_at AT TIME ZONE 'UTC')::date::text AS day FROM events`,
    )) as [{ day: string }]
    return { lastDay: day, count, seededMs }
  } finally {
    await engine.close()
  }
}

/**
 * A service started on seeded data (`startedAt`: when it was spawned) builds
 * its replica from PostgreSQL: how long until /stats counts every row, and who
 * used the CPU meanwhile.
 */
export async function waitReplicaBuilt(
  service: Service,
  startedAt: number,
  data: { count: number; seededMs: number | undefined },
  databaseUrl: string,
  redisUrl: string,
): Promise<NonNullable<BenchReport['seed']>> {
  const { at, cpu } = await withCpuProbe(service, databaseUrl, redisUrl, () =>
    waitQueryable(service.baseUrl, data.count, 200),
  )
  const replicaBuildMs = at - startedAt
  return {
    events: data.count,
    seededMs: data.seededMs,
    replicaBuildMs,
    replicaRowsPerSecond: data.count / (replicaBuildMs / 1000),
    cpu,
  }
}

/** Who used the CPU while `wait` ran (from /health on, for the replica build): where a rebuild's time goes. */
async function withCpuProbe(
  service: Service,
  databaseUrl: string,
  redisUrl: string,
  wait: () => Promise<number>,
): Promise<{ at: number; cpu: CpuBreakdown }> {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    const probe = await CpuProbe.start(db, service.pids, redisUrl)
    const at = await Promise.race([wait(), service.crashed])
    return { at, cpu: await probe.stop() }
  } finally {
    await db.end()
  }
}
