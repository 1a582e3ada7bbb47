import assert from 'node:assert/strict'
import type { LightMyRequestResponse } from 'fastify'
import { Worker } from '../../src/worker/worker.ts'
import { startServerTestApp, startTestApp, type TestApp } from './app.ts'
import { waitFor } from './events.ts'
import { INGEST_MODES } from './ingest-modes.ts'

// What the project tests share: the two modes they run in, a worker they can
// pause (so a queue's backlog can be looked at), and reads of the store per project.

/** Embedded (PGlite, written before answering) and server mode with the queue and a worker. */
export const PROJECT_MODES = INGEST_MODES.filter((m) => m.server === m.queue)

export type ProjectMode = (typeof PROJECT_MODES)[number]

/**
 * The app of `mode`, with no worker started in queue mode: the caller starts
 * one (PausableWorker) when it wants the queue drained.
 */
export function startProjectApp(mode: ProjectMode, env: Record<string, string> = {}) {
  const options = { queue: mode.queue, worker: false, env: { WORKER_BLOCK_MS: '20', ...env } }
  return mode.server ? startServerTestApp(options) : startTestApp(options)
}

/** The queue's worker of a test app, stopped and started again at will; nothing in embedded mode. */
export class PausableWorker {
  private worker: Worker | undefined

  constructor(private readonly t: TestApp) {}

  start(): void {
    if (this.worker || !this.t.deps.queue) return
    this.worker = new Worker(
      this.t.deps.queue,
      this.t.deps.store,
      this.t.config.worker,
      this.t.deps.log.child({ component: 'worker' }),
      this.t.deps.metrics,
    )
    this.worker.start()
  }

  /** Finishes the batch in hand and stops: what is queued after stays queued. */
  async stop(): Promise<void> {
    const w = this.worker
    this.worker = undefined
    await w?.stop()
  }
}

/** Rows in the events table, per project id (projects without rows are absent). */
export async function storedPerProject(t: TestApp): Promise<Record<number, number>> {
  const { rows } = await t.deps.db.query<{ project_id: number; n: number }>(
    'SELECT project_id, count(*)::int AS n FROM events GROUP BY project_id ORDER BY project_id',
  )
  return Object.fromEntries(rows.map((r) => [r.project_id, r.n]))
}

/** Waits until the store holds exactly these counts for these projects (the worker stores a queue asynchronously). */
export async function waitStored(t: TestApp, expected: Record<number, number>): Promise<void> {
  await waitFor(
    `stored events per project to be ${JSON.stringify(expected)}`,
    () => storedPerProject(t),
    (have) => Object.entries(expected).every(([id, n]) => (have[Number(id)] ?? 0) === n),
  )
}

/** An error body without what differs between any two requests (its id, and the URL it names). */
export function problemWithoutRequest(res: LightMyRequestResponse): Record<string, unknown> {
  const { request_id, instance, ...rest } = res.json() as Record<string, unknown>
  assert.equal(typeof request_id, 'string', 'a problem body names its request')
  assert.equal(typeof instance, 'string', 'a problem body names its URL')
  return rest
}
