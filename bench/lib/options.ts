import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { DatasetKind } from './dataset.ts'
import { LOAD_EVENTS_CAP } from './reads-under-load.ts'
import type { IdVersion } from './realistic.ts'

export type Mode = 'queue' | 'direct' | 'embedded'

export interface BenchOptions {
  /** which generated events: realistic (the default) or friendly (few values per property, the figures before issue 14) */
  dataset: DatasetKind
  /** event ids: random v4, or time-ordered v7 */
  ids: IdVersion
  events: number
  users: number
  days: number
  concurrency: number
  batch: number
  mode: Mode
  /** worker processes; always 0 in direct and embedded mode, where the API writes itself; 0 in queue mode: the API process runs the worker (role all) */
  workers: number
  /** timed runs per /stats query, over HTTP and on DuckDB directly */
  runs: number
  /** timed runs per plain-SQL query on PostgreSQL (seconds each at 10M events) */
  pgRuns: number
  /** single-event batches posted after the load to measure ingest → visible */
  markers: number
  /** time the CSV import against a plain COPY of the same file instead (issue 6) */
  importMode: boolean
  /** --import: rounds of the three loads, each load's median reported */
  rounds: number
  /** seed PostgreSQL inside SQL instead of sending over HTTP; no ingestion section */
  seedSql: boolean
  /** with --seed-sql: projects seeded side by side (PROJECT_NAMES, PROJECT_DIVISORS), each timed and checked on its own; 1 = no others */
  projects: number
  keep: boolean
  /** an existing database to use instead of a fresh one (never dropped) */
  database: string | undefined
  /** seconds of mixed load with worker kills; 0 = the normal benchmark */
  soakSeconds: number
  /** seed in SQL, then time every /stats query idle and while events are posted at full speed */
  readsUnderLoad: boolean
  /** --merges K: identify calls timed, K renames then K moves (run-merges.ts); 0 for none */
  merges: number
  /** --reads-under-load: events posted during the load, at least */
  loadEvents: number
  /** --reads-under-load: the posting goes on past loadEvents until every query has had this many runs */
  loadRuns: number
  killEverySeconds: number
  outDir: string
  /** extra KEY=VALUE settings for the service processes, to compare tunings */
  serviceEnv: Record<string, string>
  /** test hook: delete one stored event before the correctness check, which must then fail */
  injectMissingEvent: boolean
  adminDatabaseUrl: string
  redisUrl: string
}

export const MIN_RUNS = 50
/** the default of --load-runs: fewer samples make p95 the maximum */
export const LOAD_RUNS = 20

/**
 * The projects --projects K seeds: their names, and each one's share of
 * --events (and of --users), so the sizes differ by an order of magnitude.
 */
export const PROJECT_NAMES = ['default', 'second', 'third', 'fourth', 'fifth']
export const PROJECT_DIVISORS = [1, 3, 10, 30, 100]

const USAGE = `usage: npm run bench -- [options]
  --dataset D        realistic (visits with session ids, URL paths with 100k+ values, UTM fields, nested device)
                     | friendly (2 to 4 properties of few values each) (realistic)
  --ids V            event ids: v4 (random) | v7 (time-ordered) (v4)
  --events N         events to send, or to seed with --seed-sql (100000)
  --users N          distinct users, Zipf-skewed (100000 realistic, 10000 friendly)
  --days N           occurred_at spread over the last N days (30)
  --concurrency N    concurrent HTTP clients (8)
  --batch N          events per request (1000)
  --mode M           queue | direct | embedded (queue)
  --workers N        worker processes in queue mode (1); 0: one process runs every role, as npm start does
  --runs N           timed runs per /stats query, at least ${MIN_RUNS} (50)
  --pg-runs N        timed runs per plain-SQL query on PostgreSQL (3)
  --markers N        freshness probes: single events posted, then polled in /stats (20)
  --import           time the CSV import CLI against a plain COPY of the same generated file, and the replica catching up
  --rounds N         with --import: rounds of COPY, import, import beside the service; medians reported (3)
  --seed-sql         seed PostgreSQL with INSERT … SELECT instead of HTTP (for 10M); skips the ingestion section
  --projects K       with --seed-sql: K projects side by side (${PROJECT_NAMES.join(', ')}), seeded with --events,
                     a third and a tenth of it, …; every query timed and checked per project (1)
  --database URL     use this existing database (migrated if needed, never dropped)
  --keep             keep the database, Redis keys and data directory afterwards
  --soak SECONDS     mixed ingest and query load for this long, SIGKILLing a worker at intervals
  --kill-every S     seconds between worker kills in --soak (10)
  --reads-under-load seed --events realistic events in SQL (or use --database), time every /stats query idle,
                     then again in turn while more are posted at full speed; then the exactly-once check
  --load-events N    with --reads-under-load: realistic events posted during the load, at least (200000)
  --load-runs N      with --reads-under-load: the posting goes on past --load-events (up to ${LOAD_EVENTS_CAP} times as many)
                     until every query has had N runs under load (${LOAD_RUNS})
  --out DIR          where the JSON and Markdown results go (bench/results)
  --service-env K=V  extra environment for the service processes (repeatable)
environment: BENCH_DATABASE_URL (admin url), BENCH_REDIS_URL`

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      dataset: { type: 'string', default: 'realistic' },
      ids: { type: 'string', default: 'v4' },
      events: { type: 'string', default: '100000' },
      users: { type: 'string' },
      days: { type: 'string', default: '30' },
      concurrency: { type: 'string', default: '8' },
      batch: { type: 'string', default: '1000' },
      mode: { type: 'string', default: 'queue' },
      workers: { type: 'string', default: '1' },
      runs: { type: 'string', default: String(MIN_RUNS) },
      'pg-runs': { type: 'string', default: '3' },
      markers: { type: 'string', default: '20' },
      import: { type: 'boolean', default: false },
      rounds: { type: 'string', default: '3' },
      'seed-sql': { type: 'boolean', default: false },
      projects: { type: 'string', default: '1' },
      database: { type: 'string' },
      keep: { type: 'boolean', default: false },
      soak: { type: 'string', default: '0' },
      'kill-every': { type: 'string', default: '10' },
      'reads-under-load': { type: 'boolean', default: false },
      merges: { type: 'string', default: '0' },
      'load-events': { type: 'string', default: '200000' },
      'load-runs': { type: 'string', default: String(LOAD_RUNS) },
      out: { type: 'string', default: fileURLToPath(new URL('../results/', import.meta.url)) },
      'service-env': { type: 'string', multiple: true, default: [] },
      // Not in the usage text: only the test suite uses it, to prove the check can fail.
      'inject-missing-event': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const mode = values.mode
  if (mode !== 'queue' && mode !== 'direct' && mode !== 'embedded')
    throw new Error(`--mode must be queue, direct or embedded, got "${mode}"`)
  const dataset = values.dataset
  if (dataset !== 'realistic' && dataset !== 'friendly')
    throw new Error(`--dataset must be realistic or friendly, got "${dataset}"`)
  const ids = values.ids
  if (ids !== 'v4' && ids !== 'v7') throw new Error(`--ids must be v4 or v7, got "${ids}"`)
  const options: BenchOptions = {
    dataset,
    ids,
    events: positiveInt('events', values.events),
    users: positiveInt('users', values.users ?? (dataset === 'realistic' ? '100000' : '10000')),
    days: positiveInt('days', values.days),
    concurrency: positiveInt('concurrency', values.concurrency),
    batch: positiveInt('batch', values.batch),
    mode,
    workers: mode === 'queue' ? nonNegativeInt('workers', values.workers) : 0,
    runs: positiveInt('runs', values.runs),
    pgRuns: positiveInt('pg-runs', values['pg-runs']),
    markers: positiveInt('markers', values.markers),
    importMode: values.import,
    rounds: positiveInt('rounds', values.rounds),
    seedSql: values['seed-sql'],
    projects: positiveInt('projects', values.projects),
    keep: values.keep,
    database: values.database,
    soakSeconds: nonNegativeInt('soak', values.soak),
    killEverySeconds: positiveInt('kill-every', values['kill-every']),
    readsUnderLoad: values['reads-under-load'],
    merges: nonNegativeInt('merges', values.merges),
    loadEvents: positiveInt('load-events', values['load-events']),
    loadRuns: positiveInt('load-runs', values['load-runs']),
    outDir: values.out,
    serviceEnv: parseServiceEnv(values['service-env']),
    injectMissingEvent: values['inject-missing-event'],
    adminDatabaseUrl: env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  }
  validate(options)
  return options
}

/** Combinations that would measure something other than what the report says. */
function validate(o: BenchOptions): void {
  // Fewer runs make p99 the maximum of a handful of samples: not a percentile worth printing.
  if (o.runs < MIN_RUNS) throw new Error(`--runs must be at least ${MIN_RUNS}, got ${o.runs}`)
  if (o.mode === 'embedded' && (o.seedSql || o.database))
    throw new Error('--seed-sql and --database need PostgreSQL: not with --mode embedded')
  if (o.soakSeconds > 0 && (o.mode !== 'queue' || o.workers === 0))
    throw new Error(
      '--soak kills worker processes, which only queue mode with --workers 1 or more has',
    )
  if (o.soakSeconds > 0 && o.seedSql)
    throw new Error('--soak sends its own events: not with --seed-sql')
  if (o.soakSeconds > 0 && o.killEverySeconds >= o.soakSeconds)
    throw new Error('--kill-every must be shorter than --soak, or no worker is ever killed')
  // The import is timed into fresh databases of PostgreSQL, with nothing else running.
  if (
    o.importMode &&
    (o.mode === 'embedded' || o.seedSql || o.soakSeconds > 0 || o.database || o.readsUnderLoad)
  )
    throw new Error(
      '--import runs on its own fresh PostgreSQL databases: not with --mode embedded, --seed-sql, --soak, --reads-under-load or --database',
    )
  if (o.readsUnderLoad && (o.mode !== 'queue' || o.soakSeconds > 0))
    throw new Error(
      '--reads-under-load runs the service in queue mode with its own load: not with --mode direct or embedded, nor --soak',
    )
  if (o.readsUnderLoad && o.dataset !== 'realistic')
    throw new Error('--reads-under-load seeds and posts the realistic data set: not with --dataset')
  if (o.projects > 1) validateProjects(o)
  if (o.merges > 0 && (!o.seedSql || o.mode === 'embedded' || o.projects > 1 || o.readsUnderLoad))
    throw new Error(
      '--merges links users of events seeded in PostgreSQL: it needs --seed-sql, and not --mode embedded, --projects or --reads-under-load',
    )
  if (o.database !== undefined && !/^postgres(ql)?:\/\//.test(o.database))
    throw new Error(`--database must be a postgres:// URL, got "${o.database}"`)
}

function validateProjects(o: BenchOptions): void {
  if (o.projects > PROJECT_NAMES.length)
    throw new Error(`--projects must be at most ${PROJECT_NAMES.length}, got ${o.projects}`)
  if (!o.seedSql || o.database || o.readsUnderLoad)
    throw new Error(
      '--projects seeds its projects into a fresh database: it needs --seed-sql, and not --database or --reads-under-load',
    )
  const smallest = PROJECT_DIVISORS[o.projects - 1]!
  if (Math.floor(o.events / smallest) < 1)
    throw new Error(
      `--projects ${o.projects} gives project ${PROJECT_NAMES[o.projects - 1]} 1/${smallest} of --events, which must then be at least ${smallest}`,
    )
}

function positiveInt(name: string, text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`--${name} must be a positive integer, got "${text}"`)
  return n
}

function nonNegativeInt(name: string, text: string): number {
  return text === '0' ? 0 : positiveInt(name, text)
}

function parseServiceEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair)
    if (!match) throw new Error(`--service-env must look like NAME=value, got "${pair}"`)
    env[match[1]!] = match[2]!
  }
  return env
}
