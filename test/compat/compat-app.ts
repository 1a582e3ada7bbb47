import assert from 'node:assert/strict'
import type { InjectOptions, LightMyRequestResponse } from 'fastify'
import { ApiKeyStore } from '../../src/auth/api-keys.ts'
import { DEFAULT_PROJECT_ID } from '../../src/projects/project-store.ts'
import { startServerTestApp, startTestApp, type TestApp } from '../helpers/app.ts'
import { waitFor } from '../helpers/events.ts'
import { PROJECT_MODES, type ProjectMode } from '../helpers/projects.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts'

// What the SDK-route suites share: the app in embedded mode (written before
// the answer) and in server mode with the queue and a worker, closed with a
// write and a read key of the default project, and reads of what was kept.

export const COMPAT_MODES = PROJECT_MODES

export interface CompatApp {
  t: TestApp
  mode: ProjectMode
  writeKey: string
  readKey: string
  post(
    url: string,
    payload: string | Buffer | object,
    headers?: Record<string, string>,
  ): Promise<LightMyRequestResponse>
  /** GET with the read key; the parsed JSON of a 200 */
  // biome-ignore lint/suspicious/noExplicitAny: API answers, asserted on by the tests
  read(url: string): Promise<any>
  /** the stored events, by occurred_at then event_id, times as ISO text */
  events(): Promise<StoredEvent[]>
  /** waits until the store holds `count` events (the worker stores queued ones a moment later) */
  waitEvents(count: number): Promise<StoredEvent[]>
  identities(): Promise<Array<Record<string, unknown>>>
  metric(name: string, labels: Record<string, string>): Promise<number>
  close(): Promise<void>
}

export interface StoredEvent {
  event_id: string
  project_id: number
  occurred_at: string
  user_id: string
  event_type: string
  properties: Record<string, unknown>
}

export async function startCompatApp(
  mode: ProjectMode,
  env: Record<string, string> = {},
): Promise<CompatApp> {
  const options = { queue: mode.queue, worker: mode.queue, env: { WORKER_BLOCK_MS: '20', ...env } }
  const t = mode.server ? await startServerTestApp(options) : await startTestApp(options)
  const keys = new ApiKeyStore(t.deps.db)
  const writeKey = (await keys.create('write', 'sdk', DEFAULT_PROJECT_ID)).key
  const readKey = (await keys.create('read', 'dashboard', DEFAULT_PROJECT_ID)).key
  const events = async () => {
    const { rows } = await t.deps.db.query<StoredEvent & { occurred_at: Date }>(
      `SELECT event_id::text, project_id, occurred_at, user_id, event_type, properties
       FROM events ORDER BY occurred_at, event_id`,
    )
    return rows.map((r) => ({ ...r, occurred_at: new Date(r.occurred_at).toISOString() }))
  }
  return {
    t,
    mode,
    writeKey,
    readKey,
    post(url, payload, headers = {}) {
      const options: InjectOptions = {
        method: 'POST',
        url,
        headers,
        payload:
          typeof payload === 'string' || Buffer.isBuffer(payload)
            ? payload
            : JSON.stringify(payload),
      }
      return t.app.inject(options)
    },
    async read(url) {
      const res = await t.app.inject({ method: 'GET', url, headers: { 'x-api-key': readKey } })
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
      return res.json()
    },
    events,
    async waitEvents(count) {
      return waitFor(`${count} stored events`, events, (rows) => rows.length === count)
    },
    async identities() {
      const { rows } = await t.deps.db.query<Record<string, unknown>>(
        `SELECT message_id::text, kind, source, user_id, anonymous_id, previous_id, group_id,
                group_type, traits, traits_once, occurred_at
         FROM identity_messages ORDER BY occurred_at, message_id`,
      )
      return rows.map((r) => ({ ...r, occurred_at: new Date(r.occurred_at as Date).toISOString() }))
    },
    async metric(name, labels) {
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      return sampleValue(parsePrometheusText(res.body), name, labels) ?? 0
    },
    close: () => t.close(),
  }
}

/** `Authorization: Basic` with the key as username and an empty password, as Segment's and RudderStack's clients send it. */
export const basic = (key: string) => ({
  authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}`,
})

/** An error body without what differs between any two requests. */
export function problem(res: LightMyRequestResponse): Record<string, unknown> {
  const { request_id, instance, ...rest } = res.json() as Record<string, unknown>
  assert.equal(typeof request_id, 'string')
  assert.equal(typeof instance, 'string')
  return rest
}

/** Waits until exactly `count` stored events have a user_id starting with `prefix`; those events, by event_id. */
export async function waitUsers(
  c: CompatApp,
  prefix: string,
  count: number,
): Promise<StoredEvent[]> {
  const rows = await waitFor(
    `${count} events of users ${prefix}*`,
    async () => (await c.events()).filter((e) => e.user_id.startsWith(prefix)),
    (rows) => rows.length === count,
  )
  return rows.sort((a, b) => a.event_id.localeCompare(b.event_id))
}
