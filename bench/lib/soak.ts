import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { Pool } from 'undici'
import { eventGenerator } from './dataset.ts'
import { waitQueryable } from './http.ts'
import { waitForCount } from './ingest.ts'
import type { BenchOptions } from './options.ts'
import { type StatsQuery, timeInTurn } from './queries.ts'
import type { Service } from './service.ts'
import { type Percentiles, perSecond, summarize } from './stats.ts'

// A client that gets 503 (queue full) or loses its connection sends the same
// batch again, as the API asks: the ids make it harmless. Past this many
// attempts something is broken, not busy.
const MAX_ATTEMPTS = 50
const RETRY_DELAY_MS = 200

export interface SoakResult {
  seconds: number
  killEverySeconds: number
  kills: Array<{ atSeconds: number; role: string }>
  acceptedEvents: number
  acceptedEventsPerSecond: number
  requests: number
  /** requests sent again after a 503 or a lost connection */
  retries: number
  requestLatencyMs: Percentiles
  /** each /stats query, timed while the load and the kills went on */
  queries: Array<{ name: string; http: Percentiles }>
  /** load stopped → the store, then the replica, hold every accepted event */
  drainToStoreMs: number
  drainToReplicaMs: number
}

/**
 * Ingest clients at full speed and one client cycling through the /stats
 * queries, for `soakSeconds`, while a worker is SIGKILLed and restarted every
 * `killEverySeconds` (round robin over the workers). Returns the ids of every
 * accepted event, for the exactly-once check.
 */
export async function runSoak(
  service: Service,
  options: BenchOptions,
  databaseUrl: string,
  queries: readonly StatsQuery[],
  progress: (message: string) => void,
): Promise<{ result: SoakResult; acceptedIds: string[] }> {
  const nextEvent = eventGenerator(options)
  const pool = new Pool(service.baseUrl, { connections: options.concurrency, pipelining: 1 })
  const acceptedIds: string[] = []
  const latencies: number[] = []
  const kills: SoakResult['kills'] = []
  let requests = 0
  let retries = 0
  const started = performance.now()
  const deadline = started + options.soakSeconds * 1000
  const running = () => performance.now() < deadline

  const send = async (body: string): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const sent = performance.now()
      requests++
      try {
        const res = await pool.request({
          method: 'POST',
          path: '/events',
          headers: { 'content-type': 'application/json' },
          body,
        })
        const text = await res.body.text()
        if (res.statusCode === 202) {
          latencies.push(performance.now() - sent)
          return
        }
        if (res.statusCode !== 503)
          throw new Error(`POST /events answered ${res.statusCode}: ${text.slice(0, 300)}`)
      } catch (err) {
        if (!isConnectionError(err)) throw err
      }
      if (attempt === MAX_ATTEMPTS)
        throw new Error(`a batch was still refused after ${MAX_ATTEMPTS} attempts`)
      retries++
      await sleep(RETRY_DELAY_MS)
    }
  }
  const ingestClient = async (): Promise<void> => {
    while (running()) {
      const batch = Array.from({ length: options.batch }, nextEvent)
      await send(JSON.stringify({ events: batch }))
      for (const e of batch) acceptedIds.push(e.event_id)
    }
  }
  const workers = Object.keys(service.pids).filter((role) => role.startsWith('worker-'))
  const killer = async (): Promise<void> => {
    for (let k = 0; ; k++) {
      const at = started + (k + 1) * options.killEverySeconds * 1000
      if (at >= deadline) return
      await sleep(at - performance.now())
      const role = workers[k % workers.length]!
      progress(`SIGKILL ${role}, starting a new one`)
      await service.killAndRestart(role)
      kills.push({ atSeconds: Math.round((at - started) / 100) / 10, role })
    }
  }

  let queryLatencies: number[][]
  try {
    const [inTurn] = await Promise.race([
      Promise.all([
        timeInTurn(service.baseUrl, queries, running),
        killer(),
        ...Array.from({ length: options.concurrency }, ingestClient),
      ]),
      service.crashed,
    ])
    queryLatencies = inTurn
  } finally {
    await pool.close()
  }
  const loadStopped = performance.now()
  const seconds = (loadStopped - started) / 1000
  progress(
    `load stopped after ${seconds.toFixed(1)} s: ${acceptedIds.length} events accepted; waiting for the store and the replica`,
  )
  const db = new pg.Client({ connectionString: databaseUrl })
  await db.connect()
  let storedAt: number
  try {
    storedAt = await Promise.race([waitForCount(db, acceptedIds.length), service.crashed])
  } finally {
    await db.end()
  }
  const queryableAt = await Promise.race([
    waitQueryable(service.baseUrl, acceptedIds.length),
    service.crashed,
  ])
  return {
    acceptedIds,
    result: {
      seconds,
      killEverySeconds: options.killEverySeconds,
      kills,
      acceptedEvents: acceptedIds.length,
      acceptedEventsPerSecond: perSecond(acceptedIds.length, loadStopped - started),
      requests,
      retries,
      requestLatencyMs: summarize(latencies),
      queries: queries.map((q, i) => ({ name: q.name, http: summarize(queryLatencies[i]!) })),
      drainToStoreMs: storedAt - loadStopped,
      drainToReplicaMs: queryableAt - loadStopped,
    },
  }
}

function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? ''
  return code.startsWith('UND_ERR_') || ['ECONNRESET', 'ECONNREFUSED', 'EPIPE'].includes(code)
}
