import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { type CpuBreakdown, CpuProbe } from './cpu-probe.ts'
import { assertNothingDeadLettered, waitQueryable } from './http.ts'
import { postBatches, type RequestBody } from './http-load.ts'
import type { Mode } from './options.ts'
import type { Service } from './service.ts'
import { type Percentiles, perSecond, summarize } from './stats.ts'

const POLL_INTERVAL_MS = 50
// Fail rather than wait forever when the stored count stops moving.
const STALL_TIMEOUT_MS = 60_000

export interface IngestResult {
  events: number
  requests: number
  acceptedEventsPerSecond: number
  acceptDurationMs: number
  /** what the store gained while the requests were being sent, per second of sending */
  storedWhileAcceptingEventsPerSecond: number
  /** first request sent → the store holds every event */
  storedEventsPerSecond: number
  storeDurationMs: number
  /** first request sent → the replica behind /stats holds every event */
  queryableEventsPerSecond: number
  queryableDurationMs: number
  latencyMs: Percentiles
  /** CPU seconds from the first request until everything was stored */
  cpu: CpuBreakdown
}

export interface IngestHooks {
  /** events the store held before the first request (default 0) */
  alreadyStored?: number
  /** called once the last request has been answered (or the sending failed) */
  onPosted?: () => void
}

/**
 * Sends every body, then waits until the store holds them all and then until
 * /stats answers from all of them. In embedded mode the store is inside the
 * service (201: written before answering), so stored = accepted there.
 */
export async function measureIngest(
  service: Service,
  mode: Mode,
  databaseUrl: string | undefined,
  redisUrl: string | undefined,
  bodies: Iterable<RequestBody>,
  concurrency: number,
  { alreadyStored = 0, onPosted }: IngestHooks = {},
): Promise<IngestResult> {
  const db =
    databaseUrl === undefined ? undefined : new pg.Client({ connectionString: databaseUrl })
  await db?.connect()
  try {
    const cpuProbe = await CpuProbe.start(db, service.pids, redisUrl)
    const http = await Promise.race([
      postBatches(service.baseUrl, bodies, concurrency, mode === 'queue' ? 202 : 201).finally(
        onPosted,
      ),
      service.crashed,
    ])
    // Every body was taken in full (postBatches checks it), so this is what was sent.
    const events = http.acceptedEvents
    const total = alreadyStored + events
    // The first count is taken as the last answer arrives: what the store kept up with.
    let storedWhenAccepted = events
    const storedAt = db
      ? await Promise.race([
          waitForCount(db, total, (n, first) => {
            if (first) storedWhenAccepted = n - alreadyStored
          }),
          service.crashed,
        ])
      : http.finishedAt
    const cpu = await cpuProbe.stop()
    const queryableAt = await Promise.race([waitQueryable(service.baseUrl, total), service.crashed])
    if (mode === 'queue') await assertNothingDeadLettered(service.baseUrl)
    const acceptMs = http.finishedAt - http.startedAt
    const storeMs = storedAt - http.startedAt
    const queryableMs = queryableAt - http.startedAt
    return {
      events,
      requests: http.latenciesMs.length,
      acceptedEventsPerSecond: perSecond(http.acceptedEvents, acceptMs),
      acceptDurationMs: acceptMs,
      storedWhileAcceptingEventsPerSecond: perSecond(storedWhenAccepted, acceptMs),
      storedEventsPerSecond: perSecond(events, storeMs),
      storeDurationMs: storeMs,
      queryableEventsPerSecond: perSecond(events, queryableMs),
      queryableDurationMs: queryableMs,
      latencyMs: summarize(http.latenciesMs),
      cpu,
    }
  } finally {
    await db?.end()
  }
}

/**
 * Polls count(*) until it reaches the number expected; returns performance.now() at
 * that moment. More rows than sent, or no progress for STALL_TIMEOUT_MS, is a
 * failure. Called once every request is answered, so the count (a scan) does
 * not take CPU from the service while it is accepting.
 */
export async function waitForCount(
  db: pg.Client,
  expected: number,
  onCount?: (count: number, first: boolean) => void,
): Promise<number> {
  let last = -1
  let lastProgressAt = performance.now()
  for (;;) {
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM events')
    const count = Number(rows[0]!.n)
    const now = performance.now()
    onCount?.(count, last === -1)
    if (count === expected) return now
    if (count > expected)
      throw new Error(`PostgreSQL holds ${count} events, more than the ${expected} expected`)
    if (count !== last) {
      last = count
      lastProgressAt = now
    } else if (now - lastProgressAt > STALL_TIMEOUT_MS) {
      throw new Error(
        `PostgreSQL holds ${count} of ${expected} events and gained none in ${STALL_TIMEOUT_MS / 1000} s`,
      )
    }
    await sleep(POLL_INTERVAL_MS)
  }
}
