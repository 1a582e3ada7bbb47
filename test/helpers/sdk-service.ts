import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { startServerTestApp, startTestApp, type TestApp } from './app.ts'
import { waitFor } from './events.ts'
import { skipUnless } from './services.ts'

// What the real-SDK tests run against: the whole service listening on a real
// port (the clients speak HTTP, not inject()), embedded or in queue mode with
// its worker, and one project per scenario so that each one's figures are its own.

export const SDK_MODES = [
  { name: 'embedded (PGlite, no servers)', server: false, skip: false as const },
  {
    name: 'queue (PostgreSQL, Redis Streams + worker)',
    server: true,
    skip: await skipUnless('postgres', 'redis'),
  },
]
export type SdkMode = (typeof SDK_MODES)[number]

export interface SdkProject {
  id: number
  name: string
  /** what the SDK is configured with */
  writeKey: string
  /** what the test reads the figures with */
  readKey: string
}

export interface TopEvent {
  count: number
  unique_users: number
}

export class SdkService {
  private constructor(
    readonly t: TestApp,
    readonly url: string,
  ) {}

  static async start(mode: SdkMode): Promise<SdkService> {
    const options = { queue: mode.server, worker: true, env: { WORKER_BLOCK_MS: '20' } }
    const t = mode.server ? await startServerTestApp(options) : await startTestApp(options)
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' })
    } catch (err) {
      await t.close()
      throw err
    }
    const { port } = t.app.server.address() as AddressInfo
    return new SdkService(t, `http://127.0.0.1:${port}`)
  }

  async project(name: string): Promise<SdkProject> {
    const { id } = await this.t.deps.projects.create(name)
    const writeKey = (await this.t.deps.apiKeys.create('write', `${name} sdk`, id)).key
    const readKey = (await this.t.deps.apiKeys.create('read', `${name} test`, id)).key
    return { id, name, writeKey, readKey }
  }

  /** GET with the project's read key; the answer must be 200. */
  async read(p: SdkProject, url: string): Promise<unknown> {
    const res = await this.t.app.inject({
      method: 'GET',
      url,
      headers: { authorization: `Bearer ${p.readKey}` },
    })
    assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`)
    return res.json()
  }

  /** /stats/top-events over the days around now (every valid message is near now), by type. */
  async topEvents(p: SdkProject): Promise<Record<string, TopEvent>> {
    const rows = (await this.read(p, `/stats/top-events?${aroundToday()}&limit=1000`)) as Array<
      TopEvent & { event_type: string }
    >
    return Object.fromEntries(
      rows.map((r) => [r.event_type, { count: r.count, unique_users: r.unique_users }]),
    )
  }

  /** Events per user id as sent (/stats/breakdown?by=user_id). */
  async eventsPerUser(p: SdkProject): Promise<Record<string, number>> {
    const body = (await this.read(
      p,
      `/stats/breakdown?${aroundToday()}&by=user_id&limit=1000`,
    )) as {
      values: Array<{ value: unknown; count: number }>
      other: { values: number }
    }
    assert.equal(body.other.values, 0, 'every user fits in the breakdown')
    return Object.fromEntries(body.values.map((v) => [String(v.value), v.count]))
  }

  /** Distinct users over the days around now, as /stats/dau counts them, per day. */
  async dailyUsers(p: SdkProject): Promise<number[]> {
    const rows = (await this.read(p, `/stats/dau?${aroundToday()}`)) as Array<{
      unique_users: number
    }>
    return rows.map((r) => r.unique_users)
  }

  /**
   * The project's ingestion warnings. The body is either the list itself or
   * `{ warnings: [...] }`: the route's shape is the compat branch's to settle.
   */
  async warnings(p: SdkProject): Promise<Array<Record<string, unknown>>> {
    const body = (await this.read(p, '/events/warnings?limit=1000')) as
      | Array<Record<string, unknown>>
      | { warnings: Array<Record<string, unknown>> }
    return Array.isArray(body) ? body : body.warnings
  }

  /** Rows stored for the project, straight from the store (PostgreSQL or PGlite). */
  async storedRows(p: SdkProject): Promise<StoredRow[]> {
    const { rows } = await this.t.deps.db.query<StoredRow>(
      `SELECT event_id::text AS event_id, occurred_at, user_id, event_type, properties
       FROM events WHERE project_id = $1 ORDER BY occurred_at, event_id`,
      [p.id],
    )
    return rows
  }

  async storedCount(): Promise<number> {
    return this.t.count()
  }

  /** Waits until top-events answers exactly `expected` (the replica catches up asynchronously). */
  async untilTopEvents(p: SdkProject, expected: Record<string, TopEvent>): Promise<void> {
    const want = JSON.stringify(sortKeys(expected))
    await waitFor(
      `top events of ${p.name} to be ${want}`,
      async () => JSON.stringify(sortKeys(await this.topEvents(p))),
      (have) => have === want,
    )
  }

  close(): Promise<void> {
    return this.t.close()
  }
}

export interface StoredRow {
  event_id: string
  occurred_at: Date
  user_id: string
  event_type: string
  properties: Record<string, unknown>
}

/** Yesterday, today and tomorrow (UTC): a run that crosses midnight still sees all of its events. */
export function daysAroundToday(): string[] {
  return [-1, 0, 1].map((d) => new Date(Date.now() + d * 86_400_000).toISOString().slice(0, 10))
}

function aroundToday(): string {
  const days = daysAroundToday()
  return `from=${days[0]}&to=${days[2]}`
}

export function sortKeys<T>(o: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
}
