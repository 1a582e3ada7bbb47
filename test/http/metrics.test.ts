import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { Metrics } from '../../src/metrics.ts'
import { queueKeys } from '../../src/queue/redis-stream-queue.ts'
import { Worker } from '../../src/worker/worker.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { makeEvent, makeEvents, waitFor } from '../helpers/events.ts'
import { type Family, parsePrometheusText, sampleValue } from '../helpers/prometheus.ts'
import { skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'
import { TcpProxy } from '../helpers/tcp-proxy.ts'

type Scrape = Map<string, Family>

// With a key configured every route but the open ones needs it: /metrics must stay open.
const API_KEY = 'metrics-test-admin-key'
const AUTH = { authorization: `Bearer ${API_KEY}` }
const PROM_TEXT = 'text/plain; version=0.0.4; charset=utf-8'
const QUEUE_GAUGES = [
  'ea_queue_length_entries',
  'ea_queue_events',
  'ea_queue_pending_entries',
  'ea_queue_dead_lettered_entries',
]

// Each suite builds its own app in this process: with prom-client's global
// registry the second would fail ("already registered").
const modes = [
  { name: 'embedded (PGlite, no servers)', queue: false, status: 201, skip: false as const },
  {
    name: 'queue (PostgreSQL, Redis Streams + worker)',
    queue: true,
    status: 202,
    skip: await skipUnless('postgres', 'redis'),
  },
]

for (const mode of modes) {
  describe(`GET /metrics, ${mode.name}`, { skip: mode.skip }, () => {
    let db: TestDatabase | undefined
    let proxy: TcpProxy | undefined
    let worker: Worker | undefined
    let t: TestApp
    const insertMode = mode.queue ? 'queue' : 'direct'

    const scrape = async (): Promise<Scrape> => {
      // onResponse hooks run just after inject resolves; let the last request's finish first.
      await new Promise((r) => setImmediate(r))
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['content-type'], PROM_TEXT)
      return parsePrometheusText(res.body)
    }
    const value = (s: Scrape, name: string, labels: Record<string, string> = {}) =>
      sampleValue(s, name, labels) ?? 0
    const delta = (a: Scrape, b: Scrape, name: string, labels: Record<string, string> = {}) =>
      value(b, name, labels) - value(a, name, labels)
    const post = (payload: unknown) =>
      t.app.inject({ method: 'POST', url: '/events', payload: payload as object, headers: AUTH })
    const requests = (s: Scrape, status: number) =>
      value(s, 'ea_http_request_duration_seconds_count', {
        method: 'POST',
        route: '/events',
        status: String(status),
      })

    before(async () => {
      const env: Record<string, string> = { API_KEY, MAX_ATTEMPTS: '1', WORKER_BLOCK_MS: '20' }
      if (mode.queue) {
        db = await createTestDatabase()
        const redis = new URL(TEST_REDIS_URL)
        proxy = new TcpProxy({ host: redis.hostname, port: Number(redis.port || 6379) })
        env.REDIS_URL = `redis://127.0.0.1:${await proxy.start()}`
      }
      // No worker yet: the queue tests start one once the backlog has been seen.
      t = await startTestApp({ databaseUrl: db?.url, queue: mode.queue, worker: false, env })
    })
    after(async () => {
      await worker?.stop()
      await t?.close()
      await proxy?.close()
      await db?.drop()
    })

    test('is open, Prometheus text, and holds every metric of the service', async () => {
      assert.equal(
        (await t.app.inject({ method: 'POST', url: '/events', payload: makeEvents(1) })).statusCode,
        401,
      )
      const s = await scrape()
      const types = Object.fromEntries([...s.values()].map((f) => [f.name, f.type]))
      assert.deepEqual(
        {
          ea_http_request_duration_seconds: types.ea_http_request_duration_seconds,
          ea_events_received_total: types.ea_events_received_total,
          ea_events_inserted_total: types.ea_events_inserted_total,
          ea_events_duplicate_total: types.ea_events_duplicate_total,
          ea_events_rejected_total: types.ea_events_rejected_total,
          ea_worker_batch_events: types.ea_worker_batch_events,
          ea_worker_batch_duration_seconds: types.ea_worker_batch_duration_seconds,
          ea_analytics_sync_lag_rows: types.ea_analytics_sync_lag_rows,
          ea_analytics_sync_lag_seconds: types.ea_analytics_sync_lag_seconds,
          process_cpu_user_seconds_total: types.process_cpu_user_seconds_total,
          nodejs_heap_size_used_bytes: types.nodejs_heap_size_used_bytes,
        },
        {
          ea_http_request_duration_seconds: 'histogram',
          ea_events_received_total: 'counter',
          ea_events_inserted_total: 'counter',
          ea_events_duplicate_total: 'counter',
          ea_events_rejected_total: 'counter',
          ea_worker_batch_events: 'histogram',
          ea_worker_batch_duration_seconds: 'histogram',
          ea_analytics_sync_lag_rows: 'gauge',
          ea_analytics_sync_lag_seconds: 'gauge',
          process_cpu_user_seconds_total: 'counter',
          nodejs_heap_size_used_bytes: 'gauge',
        },
      )
      // The series exists at 0 before the first event, for this process's mode only.
      assert.equal(sampleValue(s, 'ea_events_inserted_total', { mode: insertMode }), 0)
      assert.equal(s.get('ea_events_inserted_total')!.samples.length, 1)
      assert.ok(value(s, 'ea_analytics_sync_lag_rows') >= 0)
      for (const name of QUEUE_GAUGES) {
        if (mode.queue) assert.equal(typeof sampleValue(s, name), 'number', name)
        else assert.equal(s.has(name), false, `${name} without a queue`)
      }
    })

    test('30 events with 5 repeats count as 30 received, 25 inserted, 5 duplicates, one request', async () => {
      const before = await scrape()
      const events = makeEvents(25)
      const res = await post([...events, ...events.slice(0, 5)])
      assert.equal(res.statusCode, mode.status)
      assert.deepEqual([res.json().inserted, res.json().duplicates], [25, 5])
      const after = await scrape()
      assert.deepEqual(
        {
          received: delta(before, after, 'ea_events_received_total'),
          inserted: delta(before, after, 'ea_events_inserted_total', { mode: insertMode }),
          duplicate: delta(before, after, 'ea_events_duplicate_total'),
          rejected: delta(before, after, 'ea_events_rejected_total'),
          requests: requests(after, mode.status) - requests(before, mode.status),
        },
        { received: 30, inserted: 25, duplicate: 5, rejected: 0, requests: 1 },
      )
      if (mode.queue) {
        // Not consumed yet: the backlog shows in the queue gauges.
        assert.equal(delta(before, after, 'ea_queue_events'), 25)
        assert.equal(delta(before, after, 'ea_queue_length_entries'), 1)
      }
    })

    test('the events of a 422 request, in either body shape, count as rejected and nothing else', async () => {
      const before = await scrape()
      const asArray = await post([
        makeEvent(),
        makeEvent({ user_id: '' }),
        makeEvent({ event_type: '' }),
      ])
      const asObject = await post({ events: [makeEvent({ event_id: 'nope' }), makeEvent()] })
      assert.deepEqual([asArray.statusCode, asObject.statusCode], [422, 422])
      const after = await scrape()
      assert.equal(delta(before, after, 'ea_events_rejected_total'), 5)
      assert.equal(delta(before, after, 'ea_events_received_total'), 0)
      assert.equal(requests(after, 422) - requests(before, 422), 2)
    })

    test('requests are labelled by route pattern, never by raw URL', async () => {
      const before = await scrape()
      await t.app.inject({ method: 'GET', url: '/no/such/path?x=1' })
      await t.app.inject({ method: 'GET', url: '/health?verbose=1' })
      const after = await scrape()
      const count = 'ea_http_request_duration_seconds_count'
      assert.equal(
        delta(before, after, count, { method: 'GET', route: 'unmatched', status: '404' }),
        1,
      )
      assert.equal(
        delta(before, after, count, { method: 'GET', route: '/health', status: '200' }),
        1,
      )
      const routes = new Set(
        after.get('ea_http_request_duration_seconds')!.samples.map((x) => x.labels.route),
      )
      assert.ok(
        ![...routes].some((r) => r?.includes('?') || r?.includes('/no/such')),
        [...routes].join(', '),
      )
    })

    if (!mode.queue) return

    test('the worker records its batches and the queue gauges drain', async () => {
      const before = await scrape()
      worker = new Worker(t.deps.queue!, t.deps.store, t.config.worker, t.deps.log, t.deps.metrics)
      worker.start()
      // sampleValue, not value: a scrape whose queue read failed has no sample, which must not pass for 0.
      // Done means stored, gone from the queue, and recorded by the worker: Redis
      // runs the ack before the worker's code after it (which records the batch)
      // does, so a drained queue alone can be seen a moment too early.
      const { after } = await waitFor(
        'the backlog stored and recorded',
        async () => ({ after: await scrape(), stored: await t.count() }),
        ({ after: s, stored }) =>
          stored === 25 &&
          sampleValue(s, 'ea_queue_events') === 0 &&
          sampleValue(s, 'ea_queue_pending_entries') === 0 &&
          delta(before, s, 'ea_worker_batch_events_sum') === 25,
      )
      assert.equal(value(after, 'ea_queue_length_entries'), 0)
      assert.equal(delta(before, after, 'ea_worker_batch_events_sum'), 25)
      const batches = delta(before, after, 'ea_worker_batch_events_count')
      assert.ok(batches >= 1)
      assert.equal(delta(before, after, 'ea_worker_batch_duration_seconds_count'), batches)
      assert.ok(value(after, 'ea_worker_batch_duration_seconds_sum') > 0)
      // The sync copies them to the replica; its lag gauge comes back to 0.
      await waitFor(
        'the replica caught up',
        scrape,
        (s) => sampleValue(s, 'ea_analytics_sync_lag_rows') === 0,
      )
    })

    test('a poison entry shows as dead-lettered', async () => {
      const before = await scrape()
      // Written by hand: the queue itself encodes only events it can store.
      const { stream, counter } = queueKeys(t.env.REDIS_KEY_PREFIX!)
      const redis = new Redis(TEST_REDIS_URL)
      try {
        await redis
          .multi()
          .incrby(counter, 1)
          .xadd(stream, '*', 'n', '1', 'rid', 'poison', 'events', '[{"not":"an event"}]')
          .exec()
      } finally {
        redis.disconnect()
      }
      const after = await waitFor(
        'the entry dead-lettered',
        scrape,
        (s) => value(s, 'ea_queue_dead_lettered_entries') === 1,
      )
      assert.equal(value(after, 'ea_queue_length_entries'), 0)
      assert.equal(
        delta(before, after, 'ea_worker_batch_events_count'),
        0,
        'a failed entry is no stored batch',
      )
    })

    test('with Redis unreachable the scrape still answers, without the queue values', async () => {
      proxy!.interrupt()
      try {
        const started = Date.now()
        const s = await scrape()
        assert.ok(Date.now() - started < 5_000, 'the scrape does not wait out the Redis timeouts')
        for (const name of QUEUE_GAUGES) assert.deepEqual(s.get(name)?.samples, [], name)
        assert.equal(typeof sampleValue(s, 'ea_events_received_total'), 'number')
        assert.equal(typeof sampleValue(s, 'ea_analytics_sync_lag_rows'), 'number')
      } finally {
        proxy!.restore()
      }
      await waitFor(
        'the queue values back',
        scrape,
        (s) => sampleValue(s, 'ea_queue_length_entries') === 0,
      )
    })
  })
}

describe('Metrics, on its own', () => {
  test('leaves out the lag values when the read fails or hangs, and keeps the scrape going', async () => {
    const failing = new Metrics({
      analytics: {
        lag: () => Promise.reject(new Error('PostgreSQL is down')),
        syncFailures: () => 3,
      },
    })
    const hanging = new Metrics({
      analytics: { lag: () => new Promise(() => {}), syncFailures: () => 3 },
      readTimeoutMs: 50,
    })
    for (const m of [failing, hanging]) {
      const s = parsePrometheusText(await m.registry.metrics())
      assert.deepEqual(s.get('ea_analytics_sync_lag_rows')?.samples, [])
      assert.deepEqual(s.get('ea_analytics_sync_lag_seconds')?.samples, [])
      assert.equal(sampleValue(s, 'ea_events_received_total'), 0)
      assert.equal(sampleValue(s, 'ea_analytics_sync_failures_total'), 3)
    }
  })

  test('reads the queue status once per scrape for all four gauges', async () => {
    let reads = 0
    // The gauges are the whole queue's (shared), not the default project's share of it.
    const status = {
      enabled: true,
      queued_events: 7,
      dead_lettered: 0,
      max_events: 100,
      shared: { length: 3, queued_events: 40, pending: 2, dead_lettered: 1, consumers: [] },
    }
    const m = new Metrics({
      queue: {
        status: async () => {
          reads++
          return status
        },
      },
    })
    const s = parsePrometheusText(await m.registry.metrics())
    assert.equal(reads, 1)
    assert.deepEqual(
      QUEUE_GAUGES.map((n) => sampleValue(s, n)),
      [3, 40, 2, 1],
    )
    assert.equal(sampleValue(s, 'ea_events_inserted_total', { mode: 'queue' }), 0)
  })
})
