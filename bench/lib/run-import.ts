import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { writeEventsCsv } from './csv-file.ts'
import { openPostgres } from './engine.ts'
import { waitQueryable } from './http.ts'
import { backgroundLoadPercent, describeMachine, type Machine } from './machine.ts'
import type { BenchOptions } from './options.ts'
import { machineCpu, processCpuSeconds } from './proc.ts'
import { generateEvents } from './realistic.ts'
import type { Progress } from './run.ts'
import { createSandbox, type Sandbox } from './sandbox.ts'
import { Service } from './service.ts'
import { perSecond } from './stats.ts'

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url))

/** One timed load of the file, and how busy the machine was (all cores, 0..100). */
export interface LoadTiming {
  rows: number
  ms: number
  rowsPerSecond: number
  /** the second before it started: work that is not ours */
  busyBeforePercent: number
  busyDuringPercent: number
}

export interface ImportTiming extends LoadTiming {
  /** CPU seconds of the import process (read from /proc while it ran) */
  cpuSeconds: number | undefined
  /** what it printed with --json */
  summary: Record<string, unknown>
}

export interface ImportBenchReport {
  startedAt: string
  serviceSource: string
  machine: Machine
  settings: {
    events: number
    users: number
    days: number
    rounds: number
    serviceEnv: Record<string, string>
  }
  file: { rows: number; bytes: number }
  /** `COPY events (...) FROM STDIN (FORMAT csv, HEADER)` of the file, into a fresh migrated database */
  copy: LoadTiming
  /** the import CLI as a child process, start to exit (start-up included), into another fresh database */
  import: ImportTiming
  /** the same into a third, while the service runs on it and its sync copies the rows into the replica */
  withService: ImportTiming & {
    /** CPU the service process used during the import: mostly the sync */
    serviceCpuSeconds: number
    /** from the import's exit until the service's replica held every row */
    replicaCatchUpMs: number
  }
  /** every round's three loads, in the order run; the figures above are each load's median round */
  rounds: Array<{
    copy: LoadTiming
    import: ImportTiming
    withService: ImportBenchReport['withService']
  }>
  /** import rows/s ÷ COPY rows/s, medians */
  ratio: number
  ratioWithService: number
  benchPeakRssMb: number
}

const COPY_SQL =
  'COPY events (event_id, occurred_at, user_id, event_type, properties) FROM STDIN (FORMAT csv, HEADER)'

/**
 * The import against the bare engine (issue 6): one generated file, a plain
 * COPY of it into a fresh `events` table, the real import CLI into another,
 * and the import once more into a third while the service runs on it, as it
 * would in use, with how long its replica then took to hold every row. In
 * rounds, each load in turn, so that load from other work on the machine
 * falls on all three alike; the report takes each one's median.
 */
export async function runImportBench(
  options: BenchOptions,
  sandbox: Sandbox,
  progress: Progress,
  busyBefore: number,
): Promise<Omit<ImportBenchReport, 'startedAt' | 'serviceSource' | 'settings' | 'benchPeakRssMb'>> {
  const file = join(sandbox.dataDir, 'import.csv')
  progress(
    `generating ${options.events} events for ${options.users} users over ${options.days} days into ${file}`,
  )
  const bytes = await writeEventsCsv(file, generateEvents(options))
  const rows = options.events
  progress(
    `the file: ${(bytes / 2 ** 20).toFixed(0)} MiB; ${options.rounds} round(s) of COPY, import, import beside the service`,
  )
  const rounds: ImportBenchReport['rounds'] = []
  for (let round = 1; round <= options.rounds; round++) {
    // Databases of their own, with the real migrations: the same table, key and index each time.
    const copy = await inFreshSandbox(options, async ({ databaseUrl }) => {
      const timing = await timed(rows, () => copyFile(databaseUrl!, file))
      await assertRows(databaseUrl!, rows)
      return timing
    })
    const alone = await inFreshSandbox(options, ({ databaseUrl }) =>
      timedImport(rows, file, databaseUrl!),
    )
    const withService = await inFreshSandbox(options, (fresh) =>
      importBesideService(options, fresh, file, rows),
    )
    progress(
      `round ${round}: COPY ${int(copy.rowsPerSecond)} rows/s, import ${int(alone.rowsPerSecond)} rows/s, ` +
        `beside the service ${int(withService.rowsPerSecond)} rows/s (replica caught up ${(withService.replicaCatchUpMs / 1000).toFixed(1)} s later)`,
    )
    rounds.push({ copy, import: alone, withService })
  }
  const copy = median(rounds.map((r) => r.copy))
  const alone = median(rounds.map((r) => r.import))
  const withService = median(rounds.map((r) => r.withService))
  const engine = openPostgres(sandbox.databaseUrl!, 1)
  try {
    const machine = await describeMachine(engine, options.redisUrl, busyBefore)
    const ratio = (t: LoadTiming) => Number((t.rowsPerSecond / copy.rowsPerSecond).toPrecision(3))
    return {
      machine,
      file: { rows, bytes },
      rounds,
      copy,
      import: alone,
      withService,
      ratio: ratio(alone),
      ratioWithService: ratio(withService),
    }
  } finally {
    await engine.close()
  }
}

async function importBesideService(
  options: BenchOptions,
  sandbox: Sandbox,
  file: string,
  rows: number,
): Promise<ImportBenchReport['withService']> {
  const service = await Service.start({
    mode: 'direct',
    workers: 0,
    databaseUrl: sandbox.databaseUrl,
    redisUrl: options.redisUrl,
    redisPrefix: sandbox.redisPrefix,
    dataDir: sandbox.dataDir,
    duckdbPath: join(sandbox.dataDir, 'analytics.duckdb'),
    extraEnv: options.serviceEnv,
  })
  try {
    const serviceCpuBefore = (await processCpuSeconds(service.pids.api!)) ?? 0
    const timing = await timedImport(rows, file, sandbox.databaseUrl!, service.crashed)
    const ended = performance.now()
    const serviceCpuSeconds = round1(
      ((await processCpuSeconds(service.pids.api!)) ?? 0) - serviceCpuBefore,
    )
    const replicaCatchUpMs =
      (await Promise.race([waitQueryable(service.baseUrl, rows, 50), service.crashed])) - ended
    return { ...timing, serviceCpuSeconds, replicaCatchUpMs }
  } finally {
    await service.stop()
  }
}

/** The round with the median rate (the lower middle one of an even count). */
function median<T extends LoadTiming>(timings: T[]): T {
  return [...timings].sort((a, b) => a.rowsPerSecond - b.rowsPerSecond)[
    Math.floor((timings.length - 1) / 2)
  ]!
}

const int = (n: number) => Math.round(n).toLocaleString('en-US')

async function inFreshSandbox<T>(
  options: BenchOptions,
  work: (sandbox: Sandbox) => Promise<T>,
): Promise<T> {
  const sandbox = await createSandbox({
    embedded: false,
    databaseUrl: undefined,
    adminDatabaseUrl: options.adminDatabaseUrl,
    redisUrl: options.redisUrl,
  })
  try {
    return await work(sandbox)
  } finally {
    await sandbox.destroy()
  }
}

async function timedImport(
  rows: number,
  file: string,
  databaseUrl: string,
  crashed?: Promise<never>,
): Promise<ImportTiming> {
  let result: Awaited<ReturnType<typeof runImportCli>> | undefined
  const timing = await timed(rows, async () => {
    result = await (crashed
      ? Promise.race([runImportCli(file, databaseUrl), crashed])
      : runImportCli(file, databaseUrl))
  })
  const { summary, cpuSeconds } = result!
  if (summary.inserted !== rows)
    throw new Error(
      `the import inserted ${String(summary.inserted)} of ${rows} rows: ${JSON.stringify(summary)}`,
    )
  return {
    ...timing,
    cpuSeconds: cpuSeconds === undefined ? undefined : round1(cpuSeconds),
    summary,
  }
}

const round1 = (n: number): number => Math.round(n * 10) / 10

async function timed(rows: number, load: () => Promise<void>): Promise<LoadTiming> {
  const busyBeforePercent = await backgroundLoadPercent()
  const cpuBefore = await machineCpu()
  const started = performance.now()
  await load()
  const ms = performance.now() - started
  const cpuAfter = await machineCpu()
  const total = cpuAfter.totalSeconds - cpuBefore.totalSeconds
  const busyDuringPercent =
    total > 0 ? Math.round((100 * (cpuAfter.busySeconds - cpuBefore.busySeconds)) / total) : 0
  return { rows, ms, rowsPerSecond: perSecond(rows, ms), busyBeforePercent, busyDuringPercent }
}

async function copyFile(databaseUrl: string, file: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await pipeline(
      createReadStream(file, { highWaterMark: 256 * 1024 }),
      client.query(copyFrom(COPY_SQL)),
    )
  } finally {
    await client.end()
  }
}

async function assertRows(databaseUrl: string, expected: number): Promise<void> {
  const engine = openPostgres(databaseUrl, 1)
  try {
    const n = Number((await engine.query<{ n: string }>('SELECT count(*) AS n FROM events'))[0]!.n)
    if (n !== expected) throw new Error(`COPY stored ${n} rows, expected ${expected}`)
  } finally {
    await engine.close()
  }
}

/** The import CLI as `npm run import` runs it (without npm itself), --json --quiet; its CPU is read from /proc while it runs. */
async function runImportCli(
  file: string,
  databaseUrl: string,
): Promise<{ summary: Record<string, unknown>; cpuSeconds: number | undefined }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/import.ts', file, '--json', '--quiet'],
    {
      cwd: PROJECT_ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: databaseUrl, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  // The last reading before it exits: off by at most one interval.
  let cpuSeconds: number | undefined
  const sampler = setInterval(
    () => void processCpuSeconds(child.pid!).then((s) => (cpuSeconds = s ?? cpuSeconds)),
    50,
  )
  const code = await new Promise<number | null>((resolve, reject) =>
    child.on('error', reject).on('close', resolve),
  )
  clearInterval(sampler)
  if (code !== 0) throw new Error(`the import exited with ${code}: ${stderr.trim()}`)
  return { summary: JSON.parse(stdout) as Record<string, unknown>, cpuSeconds }
}
