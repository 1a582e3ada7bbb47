// Ingestion load test: sends a generated data set through the real service
// (API and worker processes, PostgreSQL, Redis) and compares how fast it is
// stored with what PostgreSQL takes directly. Everything lives in a fresh
// database and Redis key prefix, removed at the end unless --keep.
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { request } from 'undici'
import { copyBaseline, UNNEST_TABLE, unnestBaseline } from './lib/baseline.ts'
import { CpuProbe } from './lib/cpu-probe.ts'
import { generateEvents, toRequestBodies } from './lib/dataset.ts'
import { postBatches, type RequestBody } from './lib/http-load.ts'
import { parseOptions, type LoadOptions } from './lib/options.ts'
import { printReport, saveReport, type LoadReport } from './lib/report.ts'
import { createSandbox, type Sandbox } from './lib/sandbox.ts'
import { Service } from './lib/service.ts'
import { sourceDigest } from './lib/source-digest.ts'
import { percentile, perSecond } from './lib/stats.ts'

const POLL_INTERVAL_MS = 50
// Fail rather than wait forever when the stored count stops moving.
const STALL_TIMEOUT_MS = 60_000

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2), process.env)
  const startedAt = new Date().toISOString()
  // Taken before the service starts: src/ may change while the run goes on.
  const serviceSource = await sourceDigest()
  progress(`generating ${options.events} events for ${options.users} users over ${options.days} days`)
  const events = generateEvents(options)
  const bodies = toRequestBodies(events, options.batch)

  const sandbox = await createSandbox(options.adminDatabaseUrl, options.redisUrl)
  progress(`database ${sandbox.databaseName}, Redis prefix ${sandbox.redisPrefix}`)
  try {
    const { ingest, processes, cpu } = await measureIngest(options, sandbox, bodies)
    progress('baseline: unnest insert over 4 connections')
    const unnest = await unnestBaseline(sandbox.databaseUrl, events)
    await assertStoredAsSent(sandbox.databaseUrl, UNNEST_TABLE)
    progress('baseline: COPY')
    const copy = await copyBaseline(sandbox.databaseUrl, events)
    const report: LoadReport = {
      startedAt,
      serviceSource,
      settings: settingsOf(options),
      ingest,
      baseline: { unnest, copy },
      ratio: {
        storedToUnnest: ingest.storedEventsPerSecond / unnest.rowsPerSecond,
        storedToCopy: ingest.storedEventsPerSecond / copy.rowsPerSecond,
      },
      processes,
      cpu,
    }
    console.log()
    printReport(report)
    progress(`results written to ${await saveReport(report)}`)
  } finally {
    if (options.keep) progress(`kept database ${sandbox.databaseName}, Redis keys ${sandbox.redisPrefix}* and ${sandbox.dataDir}`)
    else await sandbox.destroy()
  }
}

/** Starts the service, sends everything, waits until PostgreSQL holds it all, and stops the service. */
async function measureIngest(
  options: LoadOptions,
  sandbox: Sandbox,
  bodies: RequestBody[],
): Promise<Pick<LoadReport, 'ingest' | 'processes' | 'cpu'>> {
  progress(`starting the service: ${options.mode} mode, ${options.workers} worker process(es)`)
  const service = await Service.start({
    mode: options.mode,
    workers: options.workers,
    databaseUrl: sandbox.databaseUrl,
    redisUrl: options.redisUrl,
    redisPrefix: sandbox.redisPrefix,
    dataDir: sandbox.dataDir,
    extraEnv: options.serviceEnv,
  })
  const db = new pg.Client({ connectionString: sandbox.databaseUrl })
  try {
    await db.connect()
    progress(`sending ${bodies.length} requests from ${options.concurrency} clients`)
    const cpuProbe = await CpuProbe.start(db, service.pids, options.redisUrl)
    const expectedStatus = options.mode === 'queue' ? 202 : 201
    const http = await Promise.race([postBatches(service.baseUrl, bodies, options.concurrency, expectedStatus), service.crashed])
    progress('all accepted; waiting until PostgreSQL holds every event')
    const storedAt = await Promise.race([waitForCount(db, options.events), service.crashed])
    const cpu = await cpuProbe.stop()
    if (options.mode === 'queue') await assertNothingDeadLettered(service.baseUrl)
    const processes = await service.usage()
    const acceptMs = http.finishedAt - http.startedAt
    const storeMs = storedAt - http.startedAt
    return {
      ingest: {
        acceptedEventsPerSecond: perSecond(http.acceptedEvents, acceptMs),
        acceptDurationMs: acceptMs,
        storedEventsPerSecond: perSecond(options.events, storeMs),
        storeDurationMs: storeMs,
        latencyMs: {
          p50: percentile(http.latenciesMs, 50),
          p95: percentile(http.latenciesMs, 95),
          p99: percentile(http.latenciesMs, 99),
          max: percentile(http.latenciesMs, 100),
        },
        requests: http.latenciesMs.length,
      },
      processes,
      cpu,
    }
  } finally {
    await db.end()
    await service.stop()
  }
}

/**
 * Polls count(*) until it reaches the number sent; returns performance.now() at
 * that moment. More rows than sent, or no progress for STALL_TIMEOUT_MS, is a
 * failure. Called once every request is answered, so the count (a scan) does
 * not take CPU from the service while it is accepting.
 */
async function waitForCount(db: pg.Client, expected: number): Promise<number> {
  let last = -1
  let lastProgressAt = performance.now()
  for (;;) {
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM events')
    const count = Number(rows[0]!.n)
    const now = performance.now()
    if (count === expected) return now
    if (count > expected) throw new Error(`PostgreSQL holds ${count} events but only ${expected} were sent`)
    if (count !== last) {
      last = count
      lastProgressAt = now
    } else if (now - lastProgressAt > STALL_TIMEOUT_MS) {
      throw new Error(`PostgreSQL holds ${count} of ${expected} events and gained none in ${STALL_TIMEOUT_MS / 1000} s`)
    }
    await sleep(POLL_INTERVAL_MS)
  }
}

/** Every event is stored, so a dead-lettered entry means the worker failed on good data. */
async function assertNothingDeadLettered(baseUrl: string): Promise<void> {
  const res = await request(`${baseUrl}/events/queue/status`)
  const status = (await res.body.json()) as { dead_lettered?: number }
  if (status.dead_lettered) throw new Error(`the queue dead-lettered ${status.dead_lettered} entries: ${JSON.stringify(status)}`)
}

/**
 * The baseline inserted the generated events as they are, so the service must
 * have stored exactly the same rows: same ids, same instants, same values.
 */
async function assertStoredAsSent(databaseUrl: string, reference: string): Promise<void> {
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  try {
    const { rows } = await db.query<{ n: string }>(`
      SELECT count(*) AS n
      FROM events s FULL JOIN ${reference} r USING (event_id)
      WHERE s.event_id IS NULL OR r.event_id IS NULL
         OR (s.occurred_at, s.user_id, s.event_type, s.properties) IS DISTINCT FROM (r.occurred_at, r.user_id, r.event_type, r.properties)`)
    const differing = Number(rows[0]!.n)
    if (differing > 0) throw new Error(`${differing} events were stored differently from how they were sent (compared with ${reference})`)
  } finally {
    await db.end()
  }
}

function settingsOf(o: LoadOptions): LoadReport['settings'] {
  return { events: o.events, batch: o.batch, concurrency: o.concurrency, workers: o.workers, mode: o.mode, users: o.users, days: o.days, serviceEnv: o.serviceEnv }
}

const benchStarted = performance.now()

function progress(message: string): void {
  console.error(`bench [${((performance.now() - benchStarted) / 1000).toFixed(1)} s]: ${message}`)
}

main().catch((err: unknown) => {
  console.error(`bench: FAILED: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
