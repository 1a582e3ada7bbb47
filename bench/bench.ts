// The benchmark (DESIGN.md §6): ingests a generated data set through HTTP into
// the real service (or seeds PostgreSQL in SQL for 10M events), waits until it
// is queryable, measures freshness and every /stats query, and puts each figure
// beside the raw engine's (COPY into PostgreSQL; the same query functions on
// the DuckDB replica; plain SQL on PostgreSQL). Every run ends with an
// exactly-once check of the store and the replica, and exits 1 if it fails.
// --soak runs mixed load while killing workers instead; --reads-under-load
// times every query idle and while events are posted at full speed on seeded
// data, then checks every event exactly once. Everything lives in a
// fresh database, Redis key prefix and data directory, removed unless --keep.
// --import times the CSV import CLI against a plain COPY of the same file.
// --seed-sql --merges K times K identify calls that rename users and K that
// merge two users with events, beside a plain DuckDB table with the links joined.
// --seed-sql --projects K seeds K projects of different sizes side by side and
// measures and checks each one on its own.
//   npm run bench -- --events 100000

import { renderImportMarkdown } from './lib/import-markdown.ts'
import { backgroundLoadPercent } from './lib/machine.ts'
import { renderMarkdown } from './lib/markdown.ts'
import { type BenchOptions, parseOptions } from './lib/options.ts'
import { type BenchReport, ratiosOf, saveReport } from './lib/report.ts'
import { type RunResult, runBench } from './lib/run.ts'
import { type ImportBenchReport, runImportBench } from './lib/run-import.ts'
import { type MergesReport, renderMergesMarkdown, runMergesBench } from './lib/run-merges.ts'
import { runProjectsBench } from './lib/run-projects.ts'
import { runReadsUnderLoadBench } from './lib/run-reads-under-load.ts'
import { runSoakBench } from './lib/run-soak.ts'
import { createSandbox, type Sandbox } from './lib/sandbox.ts'
import { sourceDigest } from './lib/source-digest.ts'

const BUSY_WARNING_PERCENT = 10

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env)
  const startedAt = new Date().toISOString()
  // Taken before the service starts: src/ may change while the run goes on.
  const serviceSource = await sourceDigest()
  const busyBefore = await backgroundLoadPercent()
  if (busyBefore > BUSY_WARNING_PERCENT)
    progress(
      `WARNING: the machine is ${busyBefore}% busy before the run starts; every figure will be lower than on a quiet machine`,
    )
  const sandbox = await createSandbox({
    embedded: options.mode === 'embedded',
    databaseUrl: options.database,
    adminDatabaseUrl: options.adminDatabaseUrl,
    redisUrl: options.redisUrl,
  })
  progress(
    `database ${sandbox.databaseName ?? '(embedded)'}, Redis prefix ${sandbox.redisPrefix}, data directory ${sandbox.dataDir}`,
  )
  if (options.importMode) return importBench(options, sandbox, startedAt, serviceSource, busyBefore)
  if (options.merges > 0) return mergesBench(options, sandbox, startedAt, busyBefore)
  let result: RunResult
  try {
    result = options.readsUnderLoad
      ? await runReadsUnderLoadBench(options, sandbox, progress, busyBefore)
      : options.soakSeconds > 0
        ? await runSoakBench(options, sandbox, progress, busyBefore)
        : options.projects > 1
          ? await runProjectsBench(options, sandbox, progress, busyBefore)
          : await runBench(options, sandbox, progress, busyBefore)
  } finally {
    if (options.keep)
      progress(
        `kept database ${sandbox.databaseName ?? '(embedded)'}, Redis keys ${sandbox.redisPrefix}* and ${sandbox.dataDir}`,
      )
    else await sandbox.destroy()
  }
  // maxRSS is in KiB.
  const benchPeakRssMb = Math.round(process.resourceUsage().maxRSS / 1024)
  const partial = {
    startedAt,
    serviceSource,
    settings: settingsOf(options),
    ...result,
    benchPeakRssMb,
  }
  const report: BenchReport = { ...partial, ratios: ratiosOf(partial) }
  const markdown = renderMarkdown(report)
  console.log(`\n${markdown}`)
  const files = await saveReport(options.outDir, report, markdown)
  progress(`results written to ${files.join(' and ')}`)
  const c = report.correctness
  if (!c.ok)
    throw new Error(
      `correctness check: ${[...c.store.problems, ...c.replica.problems, ...c.answers].join('; ')}`,
    )
}

async function importBench(
  options: BenchOptions,
  sandbox: Sandbox,
  startedAt: string,
  serviceSource: string,
  busyBefore: number,
): Promise<void> {
  let result: Awaited<ReturnType<typeof runImportBench>>
  try {
    result = await runImportBench(options, sandbox, progress, busyBefore)
  } finally {
    if (options.keep)
      progress(
        `kept database ${sandbox.databaseName}, Redis keys ${sandbox.redisPrefix}* and ${sandbox.dataDir}`,
      )
    else await sandbox.destroy()
  }
  const settings = {
    events: options.events,
    users: options.users,
    days: options.days,
    rounds: options.rounds,
    serviceEnv: options.serviceEnv,
  }
  const report: ImportBenchReport = {
    startedAt,
    serviceSource,
    settings,
    ...result,
    benchPeakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  }
  const markdown = renderImportMarkdown(report)
  console.log(`\n${markdown}`)
  const files = await saveReport(options.outDir, report, markdown, 'bench-import')
  progress(`results written to ${files.join(' and ')}`)
}

async function mergesBench(
  options: BenchOptions,
  sandbox: Sandbox,
  startedAt: string,
  busyBefore: number,
): Promise<void> {
  let result: Awaited<ReturnType<typeof runMergesBench>>
  try {
    result = await runMergesBench(options, sandbox, progress, busyBefore)
  } finally {
    if (!options.keep) await sandbox.destroy()
  }
  const report: MergesReport = { startedAt, ...result }
  const markdown = renderMergesMarkdown(report)
  console.log(`\n${markdown}`)
  const files = await saveReport(options.outDir, report, markdown, 'bench-merges')
  progress(`results written to ${files.join(' and ')}`)
  if (!report.correct) throw new Error(`identity merges: ${report.problems.join('; ')}`)
}

function settingsOf(o: BenchOptions): BenchReport['settings'] {
  return {
    dataset: o.dataset,
    ids: o.ids,
    events: o.events,
    users: o.users,
    days: o.days,
    batch: o.batch,
    concurrency: o.concurrency,
    mode: o.mode,
    workers: o.workers,
    runs: o.runs,
    pgRuns: o.pgRuns,
    seedSql: o.seedSql,
    soakSeconds: o.soakSeconds,
    readsUnderLoad: o.readsUnderLoad,
    loadEvents: o.loadEvents,
    loadRuns: o.loadRuns,
    serviceEnv: o.serviceEnv,
    // Only when there are several: a one-project run's report stays as it was.
    ...(o.projects > 1 ? { projects: o.projects } : {}),
  }
}

const benchStarted = performance.now()

function progress(message: string): void {
  console.error(`bench [${((performance.now() - benchStarted) / 1000).toFixed(1)} s]: ${message}`)
}

main().catch((err: unknown) => {
  console.error(`bench: FAILED: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
