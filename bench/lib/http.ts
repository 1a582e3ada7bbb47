import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'

export async function getJson<T>(baseUrl: string, path: string): Promise<T> {
  const res = await request(`${baseUrl}${path}`)
  const text = await res.body.text()
  if (res.statusCode !== 200)
    throw new Error(`GET ${path} answered ${res.statusCode}: ${text.slice(0, 500)}`)
  return JSON.parse(text) as T
}

/** `project=NAME`, for a query string: the project a read is about, when the service holds several. */
export const projectParam = (name: string) => `project=${encodeURIComponent(name)}`

export interface QueueStatus {
  dead_lettered?: number
  sync: { synced_rows: number; rows_behind: number }
}

// Fail rather than wait forever when the replica stops moving.
const STALL_TIMEOUT_MS = 120_000

/**
 * Waits until the replica behind /stats holds `expected` rows and nothing
 * committed is left to copy: from then on every stats answer covers every
 * event. Returns performance.now() at that moment. `project`: that project's
 * replica (required once there are several).
 */
export async function waitQueryable(
  baseUrl: string,
  expected: number,
  intervalMs = 50,
  project?: string,
): Promise<number> {
  let last = -1
  let lastProgressAt = performance.now()
  const path = `/events/queue/status${project === undefined ? '' : `?${projectParam(project)}`}`
  for (;;) {
    const { sync } = await getJson<QueueStatus>(baseUrl, path)
    const now = performance.now()
    if (sync.synced_rows === expected && sync.rows_behind === 0) return now
    if (sync.synced_rows > expected)
      throw new Error(
        `the analytics replica${project === undefined ? '' : ` of ${project}`} holds ${sync.synced_rows} rows but only ${expected} events were stored`,
      )
    if (sync.synced_rows !== last) {
      last = sync.synced_rows
      lastProgressAt = now
    } else if (now - lastProgressAt > STALL_TIMEOUT_MS) {
      throw new Error(
        `the analytics replica${project === undefined ? '' : ` of ${project}`} holds ${sync.synced_rows} of ${expected} rows and gained none in ${STALL_TIMEOUT_MS / 1000} s`,
      )
    }
    await sleep(intervalMs)
  }
}

/** Every event is valid, so a dead-lettered entry means the worker failed on good data. */
export async function assertNothingDeadLettered(baseUrl: string): Promise<void> {
  const status = await getJson<QueueStatus>(baseUrl, '/events/queue/status')
  if (status.dead_lettered)
    throw new Error(
      `the queue dead-lettered ${status.dead_lettered} entries: ${JSON.stringify(status)}`,
    )
}
