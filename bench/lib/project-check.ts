import { type DuckDbReplica, ReplicaDatabase } from '../../src/analytics/duckdb-replica.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { type Engine, openPostgres } from './engine.ts'
import { int } from './format.ts'
import type { BenchReport, ProjectReport } from './report.ts'
import type { ServiceOptions } from './service.ts'

// What --projects reads the store and the replica through, project by
// project, and the check that sums the projects' checks up.

/**
 * The store as one project sees it: `events` is a view of that project's
 * rows, first on the search path, so the plain SQL and the exactly-once check
 * (written for one table) read that project only.
 */
export async function openProjectEngine(
  databaseUrl: string,
  project: number,
  connections: number,
): Promise<Engine> {
  if (!Number.isSafeInteger(project)) throw new Error(`not a project id: ${project}`)
  // A view takes no bound values: the id is an integer, checked above, and the schema name is made of it.
  const schema = `bench_project_${project}`
  const admin = openPostgres(databaseUrl, 1)
  try {
    await admin.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
    await admin.query(
      `CREATE OR REPLACE VIEW ${schema}.events AS SELECT * FROM public.events WHERE project_id = ${project}`,
    )
  } finally {
    await admin.close()
  }
  return openPostgres(databaseUrl, connections, `${schema},public`)
}

/** The replica file, opened here once the service has stopped, with the service's DuckDB limits: every project's schema. */
export function openReplicaDatabase(s: ServiceOptions): Promise<ReplicaDatabase> {
  return ReplicaDatabase.open(s.duckdbPath, loadConfig(s.extraEnv).analytics, createLogger('warn'))
}

/** A project's users in its replica are its users in the store, no one else's (check.ts compares those with events). */
export async function compareUsers(engine: Engine, replica: DuckDbReplica): Promise<string[]> {
  const [store] = await engine.query<{ n: string }>(
    'SELECT count(DISTINCT user_id) AS n FROM events',
  )
  const [own] = await replica.query<{ n: bigint }>('SELECT count(*) AS n FROM users')
  const [a, b] = [Number(store!.n), Number(own!.n)]
  return a === b
    ? []
    : [`the replica's users table holds ${int(b)} users, ${engine.label} ${int(a)} of the project`]
}

/**
 * Every project's check as one: problems named by project, counts summed,
 * and what no single project sees: events of no seeded project in the store,
 * or a replica schema of no project in the file.
 */
export async function sumUp(
  engine: Engine,
  serviceOptions: ServiceOptions,
  projects: readonly ProjectReport[],
): Promise<BenchReport['correctness']> {
  const named = (p: ProjectReport, list: readonly string[]) =>
    list.map((x) => `project ${p.name}: ${x}`)
  const sum = (f: (p: ProjectReport) => number) => projects.reduce((n, p) => n + f(p), 0)
  const store = projects.flatMap((p) => named(p, p.correctness.store.problems))
  const replica = projects.flatMap((p) => named(p, p.correctness.replica.problems))
  const answers = projects.flatMap((p) => named(p, p.correctness.answers))

  const ids = projects.map((p) => p.id)
  const [outside] = await engine.query<{ n: string }>(
    'SELECT count(*) AS n FROM events WHERE NOT (project_id = ANY($1::int[]))',
    [ids],
  )
  if (Number(outside!.n) > 0)
    store.push(`${engine.label} holds ${int(Number(outside!.n))} events of no seeded project`)
  const database = await openReplicaDatabase(serviceOptions)
  try {
    const onFile = (await database.projectsOnFile()).sort((a, b) => a - b)
    if (onFile.join() !== [...ids].sort((a, b) => a - b).join())
      replica.push(`the replica file holds projects ${onFile.join(', ')}, not ${ids.join(', ')}`)
  } finally {
    database.close()
  }
  const tables: Record<string, number> = {}
  for (const p of projects)
    for (const [t, n] of Object.entries(p.correctness.replica.tables))
      tables[t] = (tables[t] ?? 0) + n
  return {
    store: {
      engine: engine.label,
      events: sum((p) => p.correctness.store.events),
      expected: sum((p) => p.correctness.store.expected),
      problems: store,
    },
    replica: {
      rows: sum((p) => p.correctness.replica.rows),
      syncedRows: sum((p) => p.correctness.replica.syncedRows),
      tables,
      problems: replica,
    },
    ok: store.length === 0 && replica.length === 0 && answers.length === 0,
    answers,
  }
}
