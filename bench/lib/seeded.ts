import pg from 'pg'
import { DEFAULT_PROJECT_ID } from '../../src/projects/project-store.ts'
import { type CpuBreakdown, CpuProbe } from './cpu-probe.ts'
import { openPostgres } from './engine.ts'
import { waitQueryable } from './http.ts'
import { type BenchOptions, PROJECT_DIVISORS, PROJECT_NAMES } from './options.ts'
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
      const lastDay = yesterday()
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

// Ends yesterday: an event later today would be in the future for the API's rules.
const yesterday = () => new Date(Date.now() - 86_400_000).toISOString().slice(0, 10)

/** A project seeded by --projects. */
export interface SeededProject {
  id: number
  name: string
  /** events seeded into it */
  count: number
  users: number
  /** its user u is named user-(u + userOffset) */
  userOffset: number
  /** the last day with its events (UTC) */
  lastDay: string
}

/**
 * --projects K: the default project and K - 1 new ones in a fresh database,
 * the k-th seeded with 1/PROJECT_DIVISORS[k] of --events and of --users. Each
 * project's users are numbered from an offset of half its user count times
 * k, so the names overlap other projects' but the people (their events, first
 * days, visits) differ: a replica that mixed users across projects by name
 * would answer cohorts and retention wrongly.
 */
export async function seedProjects(
  options: BenchOptions,
  databaseUrl: string,
  progress: Progress,
): Promise<{ projects: SeededProject[]; count: number; seededMs: number }> {
  const engine = openPostgres(databaseUrl, 1)
  try {
    const [{ n }] = (await engine.query<{ n: string }>('SELECT count(*) AS n FROM events')) as [
      { n: string },
    ]
    if (Number(n) > 0) throw new Error(`--projects needs an empty events table; it holds ${n}`)
    const lastDay = yesterday()
    const started = performance.now()
    const projects: SeededProject[] = []
    for (let k = 0; k < options.projects; k++) {
      const [row] =
        k === 0
          ? await engine.query<{ id: number; name: string }>(
              'SELECT id, name FROM projects WHERE id = $1',
              [DEFAULT_PROJECT_ID],
            )
          : await engine.query<{ id: number; name: string }>(
              'INSERT INTO projects (name) VALUES ($1) RETURNING id, name',
              [PROJECT_NAMES[k]],
            )
      const { id, name } = row!
      const events = Math.floor(options.events / PROJECT_DIVISORS[k]!)
      const users = Math.max(1, Math.round(options.users / PROJECT_DIVISORS[k]!))
      const userOffset = k * Math.round(users / 2)
      progress(
        `seeding project ${name} (id ${id}): ${events} ${options.dataset} events of ${users} users (user-${userOffset + 1} to user-${userOffset + users})`,
      )
      const seed = {
        dataset: options.dataset,
        ids: options.ids,
        events,
        users,
        days: options.days,
        lastDay,
        project: id,
        userOffset,
      }
      const count = await seedEvents(databaseUrl, seed, (done) => progress(`  ${done} rows`))
      const [{ day }] = (await engine.query<{ day: string }>(
        `SELECT max(occurred_at AT TIME ZONE 'UTC')::date::text AS day FROM events WHERE project_id = $1`,
        [id],
      )) as [{ day: string }]
      projects.push({ id, name, count, users, userOffset, lastDay: day })
    }
    return {
      projects,
      count: projects.reduce((sum, p) => sum + p.count, 0),
      seededMs: performance.now() - started,
    }
  } finally {
    await engine.close()
  }
}

/**
 * A service started on seeded data (`startedAt`: when it was spawned) builds
 * its replica from PostgreSQL: how long until /stats counts every row, and who
 * used the CPU meanwhile. With `projects`, until every project's replica
 * counts every row of that project.
 */
export async function waitReplicaBuilt(
  service: Service,
  startedAt: number,
  data: { count: number; seededMs: number | undefined },
  databaseUrl: string,
  redisUrl: string,
  projects?: ReadonlyArray<{ name: string; count: number }>,
): Promise<NonNullable<BenchReport['seed']>> {
  const wait = projects
    ? async () => {
        // Each one built stays built: the last to be seen built is when all are.
        let at = 0
        for (const p of projects) at = await waitQueryable(service.baseUrl, p.count, 200, p.name)
        return at
      }
    : () => waitQueryable(service.baseUrl, data.count, 200)
  const { at, cpu } = await withCpuProbe(service, databaseUrl, redisUrl, wait)
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
