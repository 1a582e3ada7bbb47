import { join } from 'node:path'
import { loadConfig } from '../../src/config.ts'
import { singleInsertLatency } from './baseline.ts'
import { checkExactlyOnce } from './check.ts'
import type { BenchEvent } from './dataset.ts'
import { openPostgres } from './engine.ts'
import { type FreshnessResult, measureFreshness } from './freshness.ts'
import { projectParam } from './http.ts'
import { describeMachine } from './machine.ts'
import type { BenchOptions } from './options.ts'
import { exportEventsCsv, PlainDuckDb } from './plain-duckdb.ts'
import { compareUsers, openProjectEngine, openReplicaDatabase, sumUp } from './project-check.ts'
import {
  type QueryTiming,
  type StatsQuery,
  statsQueries,
  timeDuckDb,
  timeHttp,
  timePlainDuckDb,
  timePostgres,
} from './queries.ts'
import { type BenchReport, type ProjectReport, queryRatios } from './report.ts'
import {
  deleteOneEvent,
  type Progress,
  type RunResult,
  SHAPE_PATHS,
  serviceOptionsFor,
} from './run.ts'
import type { Sandbox } from './sandbox.ts'
import { type SeededProject, seedProjects, waitReplicaBuilt } from './seeded.ts'
import { type ProcessUsage, Service, type ServiceOptions } from './service.ts'

// --projects K (above 1), the measurement of the Projects issue: K projects of
// different sizes seeded side by side into one database, the service builds
// every project's replica (a DuckDB schema each, in one file), and then every
// /stats query is asked of each project with project=NAME, beside the same
// query functions on that project's replica opened directly, plain SQL on a
// plain DuckDB table of that project's events only, and plain SQL on a
// PostgreSQL view of its rows. Each project gets its own exactly-once check;
// the report sums them up.

interface Plan {
  project: SeededProject
  /** statsQueries of its days, each path naming the project */
  queries: StatsQuery[]
}

export async function runProjectsBench(
  options: BenchOptions,
  sandbox: Sandbox,
  progress: Progress,
  busyBefore: number,
): Promise<RunResult> {
  const databaseUrl = sandbox.databaseUrl!
  const serviceOptions = serviceOptionsFor(options, sandbox)
  const seeded = await seedProjects(options, databaseUrl, progress)
  const plans: Plan[] = seeded.projects.map((project) => ({
    project,
    queries: statsQueries(project.lastDay, options.dataset).map((q) => ({
      ...q,
      path: `${q.path}&${projectParam(project.name)}`,
    })),
  }))
  const home = seeded.projects[0]!

  progress(
    `starting the service: ${options.mode} mode${options.workers ? `, ${options.workers} worker process(es)` : ''}, ${plans.length} projects`,
  )
  const startedAt = performance.now()
  // The start-up is the build of every project's replica, which is what is measured: do not wait for it to go idle.
  const service = await Service.start({ ...serviceOptions, waitIdle: false })
  let seed: NonNullable<BenchReport['seed']>
  let freshness: FreshnessResult
  const http: Array<Awaited<ReturnType<typeof timeHttp>>> = []
  let processes: ProcessUsage[]
  try {
    seed = await waitReplicaBuilt(
      service,
      startedAt,
      seeded,
      databaseUrl,
      options.redisUrl,
      seeded.projects,
    )
    progress(
      `replicas of ${plans.length} projects built from ${seeded.count} rows in ${(seed.replicaBuildMs / 1000).toFixed(1)} s`,
    )
    progress(`freshness: ${options.markers} markers, into project ${home.name}`)
    freshness = await Promise.race([
      measureFreshness(
        service.baseUrl,
        options.markers,
        options.mode === 'queue' ? 202 : 201,
        home.name,
      ),
      service.crashed,
    ])
    for (const { project, queries } of plans) {
      progress(
        `project ${project.name}: timing ${queries.length} /stats queries over HTTP (${projectParam(project.name)}), ${options.runs} runs each`,
      )
      http.push(
        await Promise.race([timeHttp(service.baseUrl, queries, options.runs), service.crashed]),
      )
    }
    processes = await service.usage()
  } finally {
    await service.stop()
  }

  const engine = openPostgres(databaseUrl, options.concurrency)
  try {
    const machine = await describeMachine(engine, options.redisUrl, busyBefore)
    if (options.injectMissingEvent) await deleteOneEvent(engine, progress)
    const rawFreshness = await singleInsertLatency(engine, options.markers)
    // The plain-SQL timings read views, which ANALYZE skips: the table behind them gets its statistics here.
    await engine.query('ANALYZE events')
    const projects: ProjectReport[] = []
    for (const [i, plan] of plans.entries()) {
      const markers = i === 0 ? freshness.markers : []
      projects.push(
        await measureProject(options, serviceOptions, sandbox, plan, http[i]!, markers, progress),
      )
    }
    const correctness = await sumUp(engine, serviceOptions, projects)
    for (const a of correctness.answers) progress(`MISMATCH: ${a}`)
    return {
      machine,
      // biome-ignore lint/complexity/useMathMinMax: these are strings
      lastDay: plans.reduce((max, p) => (p.project.lastDay > max ? p.project.lastDay : max), ''),
      seed,
      freshness: { ms: freshness.ms, raw: rawFreshness, markers: freshness.markers.length },
      projects,
      startup: { firstMs: service.startupMs },
      processes,
      correctness,
    }
  } finally {
    await engine.close()
  }
}

/** One project, with the service stopped: its replica directly, its plain baselines, its check. */
async function measureProject(
  options: BenchOptions,
  serviceOptions: ServiceOptions,
  sandbox: Sandbox,
  { project: p, queries }: Plan,
  http: Awaited<ReturnType<typeof timeHttp>>,
  markers: readonly BenchEvent[],
  progress: Progress,
): Promise<ProjectReport> {
  const say = (message: string) => progress(`project ${p.name}: ${message}`)
  const engine = await openProjectEngine(sandbox.databaseUrl!, p.id, options.concurrency)
  try {
    const database = await openReplicaDatabase(serviceOptions)
    let duckdb: Awaited<ReturnType<typeof timeDuckDb>>
    let check: Awaited<ReturnType<typeof checkExactlyOnce>>
    try {
      const replica = await database.project(p.id)
      say(`timing the same query functions on its replica (schema ${replica.schema}), directly`)
      duckdb = await timeDuckDb(replica, queries, options.runs)
      say('checking: its events exactly once in PostgreSQL, as seeded, and the same in its replica')
      check = await checkExactlyOnce(engine, replica, {
        count: p.count + markers.length,
        markerIds: markers.map((m) => m.event_id),
      })
      check.replica.problems.push(...(await compareUsers(engine, replica)))
    } finally {
      database.close()
    }
    const answersOf = http.map((h) => h.answer)
    const csv = join(sandbox.dataDir, `plain-events-p${p.id}.csv`)
    const started = performance.now()
    await exportEventsCsv(sandbox.databaseUrl!, csv, p.id)
    const plain = await PlainDuckDb.load(
      join(sandbox.dataDir, `plain-p${p.id}.duckdb`),
      csv,
      loadConfig(serviceOptions.extraEnv).analytics,
    )
    let shape: ProjectReport['dataset']['shape']
    let plainTimings: Awaited<ReturnType<typeof timePlainDuckDb>>
    try {
      say(
        `plain DuckDB table of its events loaded from ${csv} in ${((performance.now() - started) / 1000).toFixed(1)} s; measuring its shape`,
      )
      shape = await plain.shape(SHAPE_PATHS[options.dataset])
      say(`  ${JSON.stringify(shape)}`)
      say(`plain SQL on its plain DuckDB table: ${options.runs} runs per query`)
      plainTimings = await timePlainDuckDb(plain, queries, options.runs, answersOf)
    } finally {
      plain.close()
    }
    say(`plain SQL on a PostgreSQL view of its rows: ${options.pgRuns} runs per query`)
    const pg = await timePostgres(engine, queries, options.pgRuns, answersOf, (name, x) =>
      say(`  ${name}: p50 ${x.p50} ms`),
    )
    const timings: QueryTiming[] = queries.map((q, i) => ({
      name: q.name,
      path: q.path,
      http: http[i]!.http,
      duckdb: duckdb[i]!,
      ...plainTimings[i]!,
      ...pg[i]!,
    }))
    const answers = [
      ...timings
        .filter((t) => !t.samePlainDuckdbAnswer)
        .map(
          (t) => `/stats answers ${t.name} differently from plain SQL on its plain DuckDB table`,
        ),
      ...timings
        .filter((t) => !t.sameAnswer)
        .map((t) => `/stats answers ${t.name} differently from plain SQL on ${engine.kind}`),
    ]
    const ok =
      check.store.problems.length === 0 &&
      check.replica.problems.length === 0 &&
      answers.length === 0
    return {
      id: p.id,
      name: p.name,
      seeded: p.count,
      users: p.users,
      userOffset: p.userOffset,
      lastDay: p.lastDay,
      dataset: { kind: options.dataset, ids: options.ids, shape },
      queries: timings,
      ratios: queryRatios(timings),
      correctness: { ...check, ok, answers },
    }
  } finally {
    await engine.close()
  }
}
