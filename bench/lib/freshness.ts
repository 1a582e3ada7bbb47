import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import type { BenchEvent } from './dataset.ts'
import { getJson, projectParam } from './http.ts'
import { type Percentiles, summarize } from './stats.ts'

export const MARKER_TYPE = 'bench_freshness'
const POLL_INTERVAL_MS = 5
// Longer than the sync's idle interval (SYNC_INTERVAL_MS, 100 ms by default): see below.
const MAX_JITTER_MS = 250
const MARKER_TIMEOUT_MS = 30_000

export interface FreshnessResult {
  /** POST sent → /stats counts the event */
  ms: Percentiles
  /** the events posted, which the correctness check expects too */
  markers: BenchEvent[]
}

/**
 * One event at a time, through the same path as the load (the queue and a
 * worker in queue mode), then /stats polled until it counts it: what a user
 * waits for between sending an event and seeing it. All markers share one
 * event type, so the data set gains a single extra type. They are posted
 * without a project, so they go to the default one, which `project` names for
 * the reads when the service holds several.
 */
export async function measureFreshness(
  baseUrl: string,
  count: number,
  expectedStatus: number,
  project?: string,
): Promise<FreshnessResult> {
  const named = project === undefined ? '' : `&${projectParam(project)}`
  const countOn = async (day: string) => {
    const rows = await getJson<Array<{ event_type: string; count: number }>>(
      baseUrl,
      `/stats/top-events?from=${day}&to=${day}&limit=1000${named}`,
    )
    return rows.find((r) => r.event_type === MARKER_TYPE)?.count ?? 0
  }
  const markers: BenchEvent[] = []
  const samples: number[] = []
  for (let i = 0; i < count; i++) {
    // Posted right after the previous marker showed up, a marker would always
    // land just as the sync starts its idle pause and always wait all of it;
    // real events arrive at any point of the sync's cycle.
    await sleep(Math.random() * MAX_JITTER_MS)
    const marker: BenchEvent = {
      event_id: randomUUID(),
      occurred_at: new Date().toISOString(),
      user_id: 'bench-freshness',
      event_type: MARKER_TYPE,
      properties: {},
    }
    // Read per marker (before the clock starts): a run that crosses midnight UTC changes the day.
    const day = marker.occurred_at.slice(0, 10)
    const before = await countOn(day)
    const sent = performance.now()
    const res = await request(`${baseUrl}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: [marker] }),
    })
    const text = await res.body.text()
    if (res.statusCode !== expectedStatus)
      throw new Error(
        `freshness marker: POST /events answered ${res.statusCode}, expected ${expectedStatus}: ${text.slice(0, 300)}`,
      )
    markers.push(marker)
    for (;;) {
      if ((await countOn(day)) > before) break
      if (performance.now() - sent > MARKER_TIMEOUT_MS)
        throw new Error(
          `freshness marker ${i + 1} was not visible in /stats after ${MARKER_TIMEOUT_MS / 1000} s`,
        )
      await sleep(POLL_INTERVAL_MS)
    }
    samples.push(performance.now() - sent)
  }
  return { ms: summarize(samples), markers }
}
