import { type BenchEvent, toRequestBodies } from './dataset.ts'
import type { RequestBody } from './http-load.ts'
import { type IngestResult, measureIngest } from './ingest.ts'
import { type StatsQuery, timeHttp, timeInTurn } from './queries.ts'
import { generateRealisticEvents, type RealisticOptions } from './realistic.ts'
import type { Service } from './service.ts'
import { type Percentiles, summarize } from './stats.ts'

// Issue 14, item 4: "while ingestion runs at full speed, stats p95 ≤ 100 ms".
// Every /stats query is timed on an idle service, then again, in turn and one
// at a time, while events are posted at full speed, so load / idle is the
// cost of the load. Answers under load move with every batch: they are not
// compared with plain SQL here; the exactly-once check after the load is.

/**
 * The posting goes on past --load-events until every query has its runs, but
 * to this many times as many events at most, unless a query has not been
 * timed under load at all yet.
 */
export const LOAD_EVENTS_CAP = 5

export interface QueryUnderLoad {
  name: string
  path: string
  /** the same service, just before the load started */
  idle: Percentiles
  /** every run started while the posting went on */
  load: Percentiles
  /** load p95 / idle p95 */
  loadIdleP95: number
}

export interface ReadsUnderLoadResult {
  /** events in the store when the load started */
  storedBefore: number
  /** --load-events */
  loadEvents: number
  /** what was posted: loadEvents, and more when a query still lacked runs */
  postedEvents: number
  /** --load-runs */
  minRuns: number
  /** the posting, from the first request until the replica held every event */
  ingest: IngestResult
  /** from the last POST's answer until the store, and /stats, count every event */
  lagMs: { store: number; replica: number }
  queries: QueryUnderLoad[]
}

export interface LoadPlan {
  queries: readonly StatsQuery[]
  /** what the posted events look like: the seed's users and days */
  events: Omit<RealisticOptions, 'events'>
  loadEvents: number
  loadRuns: number
  idleRuns: number
  batch: number
  concurrency: number
  storedBefore: number
  databaseUrl: string
  redisUrl: string
}

/** Idle timings, then the load; returns the figures and every posted event, for the check. */
export async function measureReadsUnderLoad(
  service: Service,
  plan: LoadPlan,
  progress: (message: string) => void,
): Promise<{ result: ReadsUnderLoadResult; posted: BenchEvent[] }> {
  const posted = generateRealisticEvents({ ...plan.events, events: plan.loadEvents })
  const bodies = toRequestBodies(posted, plan.batch)
  progress(`idle: ${plan.queries.length} /stats queries over HTTP, ${plan.idleRuns} runs each`)
  const idle = await Promise.race([
    timeHttp(service.baseUrl, plan.queries, plan.idleRuns),
    service.crashed,
  ])

  const samples = plan.queries.map((): number[] => [])
  const cap = plan.loadEvents * LOAD_EVENTS_CAP
  const enoughRuns = () => samples.every((s) => s.length >= plan.loadRuns)
  // Past the cap only until every query has been timed under load once, however slow the machine.
  const everyTimed = () => samples.every((s) => s.length > 0)
  // The prepared bodies, then (a query still short of runs) one fresh batch at
  // a time: generating a batch takes milliseconds, not the bench's event loop.
  function* source(): Generator<RequestBody> {
    yield* bodies
    while (!everyTimed() || (posted.length < cap && !enoughRuns())) {
      const batch = generateRealisticEvents({
        ...plan.events,
        events: Math.max(1, Math.min(plan.batch, cap - posted.length)),
      })
      for (const e of batch) posted.push(e)
      yield { body: JSON.stringify({ events: batch }), count: batch.length }
    }
  }
  progress(
    `load: posting ${plan.loadEvents} events from ${plan.concurrency} clients (more until every query has ${plan.loadRuns} runs), the queries in turn meanwhile`,
  )
  let posting = true
  const [ingest] = await Promise.all([
    measureIngest(service, 'queue', plan.databaseUrl, plan.redisUrl, source(), plan.concurrency, {
      alreadyStored: plan.storedBefore,
      onPosted: () => {
        posting = false
        progress(`  posting ended: ${posted.length} events posted`)
      },
    }),
    timeInTurn(service.baseUrl, plan.queries, () => posting, samples),
  ])
  const lagMs = {
    store: ingest.storeDurationMs - ingest.acceptDurationMs,
    replica: ingest.queryableDurationMs - ingest.acceptDurationMs,
  }
  progress(
    `  accepted ${Math.round(ingest.acceptedEventsPerSecond)} events/s; /stats counted them all ${(lagMs.replica / 1000).toFixed(1)} s after the last POST`,
  )
  const queries = plan.queries.map((q, i): QueryUnderLoad => {
    const load = summarize(samples[i]!)
    const before = idle[i]!.http
    return {
      name: q.name,
      path: q.path,
      idle: before,
      load,
      loadIdleP95: Number((load.p95 / before.p95).toPrecision(3)),
    }
  })
  return {
    posted,
    result: {
      storedBefore: plan.storedBefore,
      loadEvents: plan.loadEvents,
      postedEvents: posted.length,
      minRuns: plan.loadRuns,
      ingest,
      lagMs,
      queries,
    },
  }
}
