import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { test } from 'node:test'
import Fastify from 'fastify'
import { pino } from 'pino'
import type { Analytics } from '../../src/analytics/analytics.ts'
import { healthRoutes } from '../../src/health/routes.ts'
import { openApiPlugin } from '../../src/http/openapi.ts'
import type { Project } from '../../src/projects/project-store.ts'
import type { EventQueue } from '../../src/queue/event-queue.ts'
import type { EventStore } from '../../src/store/event-store.ts'

const SECRET = 'connect ECONNREFUSED 10.9.8.7:5432 (db-primary.internal)'

// /health is open to anyone who can reach the port: a down dependency is
// "down" with its latency, and why it is down goes to the operator's log only.
test('a down dependency shows up/down and latency only; its error text is logged, not sent', async () => {
  let logged = ''
  const log = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _enc, done) {
        logged += String(chunk)
        done()
      },
    }),
  )
  const app = Fastify({ loggerInstance: log })
  await app.register(openApiPlugin)
  const store = { ping: () => Promise.reject(new Error(SECRET)) } as unknown as EventStore
  const queue = {
    ping: () => Promise.resolve(),
    // Disabled, so its figures need not be stubbed: the sync lag is what is under test.
    status: () => Promise.resolve({ enabled: false }),
  } as unknown as EventQueue
  const analytics = {
    lag: () => Promise.reject(new Error(SECRET)),
    lagOf: () => Promise.reject(new Error(SECRET)),
    replicaOf: () => Promise.resolve({}),
    syncStatus: () => Promise.reject(new Error(SECRET)),
  } as unknown as Analytics
  // What access control gives each request of a route in a project (no keys: the only project).
  const project: Project = {
    id: 1,
    name: 'default',
    events_per_day: null,
    created_at: '',
    allowed_origins: null,
    persistent_visitor_id: false,
    honor_gpc: false,
    retention_days: null,
  }
  app.addHook('onRequest', async (request) => {
    request.project = project
  })
  await app.register(healthRoutes, { store, engine: 'postgresql', queue, analytics })

  const res = await app.inject({ method: 'GET', url: '/health' })
  assert.equal(res.statusCode, 503)
  const body = res.json()
  assert.equal(typeof body.dependencies.database.latency_ms, 'number')
  assert.equal(typeof body.dependencies.redis.latency_ms, 'number')
  body.dependencies.database.latency_ms = body.dependencies.redis.latency_ms = 0
  assert.deepEqual(body, {
    status: 'unhealthy',
    queue_enabled: true,
    dependencies: {
      database: { status: 'down', latency_ms: 0, engine: 'postgresql' },
      redis: { status: 'up', latency_ms: 0 },
    },
  })
  assert.ok(!res.body.includes('ECONNREFUSED'))

  const status = await app.inject({ method: 'GET', url: '/events/queue/status' })
  assert.equal(status.statusCode, 200)
  assert.deepEqual(status.json(), {
    enabled: false,
    project: 'default',
    sync: { error: 'lag unknown: the database could not be read' },
  })

  await app.close()
  const lines = logged
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { msg: string; dependency?: string; err?: { message: string } })
  const failures = lines.filter((l) => l.err?.message === SECRET)
  assert.deepEqual(failures.map((l) => [l.msg, l.dependency]).sort(), [
    ['health check failed', 'database'],
    ['sync lag unknown', undefined],
    ['sync status unknown', undefined],
  ])
})
