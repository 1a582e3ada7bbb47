import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Analytics } from '../analytics/analytics.ts'
import type { EventQueue } from '../queue/event-queue.ts'
import type { EventStore } from '../store/event-store.ts'
import { HealthResponse, healthRouteSchema, QueueStatusResponse, queueStatusRouteSchema } from './schemas.ts'
import { withTimeout } from '../timeout.ts'

export interface HealthRoutesOptions {
  store: EventStore
  /** which database holds the events: a PostgreSQL server, or PGlite embedded */
  engine: 'postgresql' | 'pglite'
  queue: EventQueue | undefined
  analytics: Analytics | undefined
}

const CHECK_TIMEOUT_MS = 2_000

async function check(probe: () => Promise<void>): Promise<{ status: 'up' | 'down'; latency_ms: number; error?: string }> {
  const started = performance.now()
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS)
    return { status: 'up', latency_ms: Math.round(performance.now() - started) }
  } catch (err) {
    return { status: 'down', latency_ms: Math.round(performance.now() - started), error: (err as Error).message }
  }
}

const routes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { store, engine, queue, analytics }) => {
  app.openApiComponent('HealthResponse', HealthResponse)
  app.openApiComponent('QueueStatus', QueueStatusResponse)

  // Open: load balancers and orchestrators probe it without a key.
  app.get('/health', { config: { scope: 'open' }, schema: healthRouteSchema }, async (_request, reply) => {
    const [database, redis, sync] = await Promise.all([
      check(() => store.ping()),
      queue ? check(() => queue.ping()) : Promise.resolve(undefined),
      analytics ? withTimeout(analytics.syncStatus(), CHECK_TIMEOUT_MS).catch(() => undefined) : Promise.resolve(undefined),
    ])
    const dependencies = { database: { ...database, engine }, ...(redis ? { redis } : {}) }
    const healthy = Object.values(dependencies).every((d) => d.status === 'up')
    // A stalled replica still serves (stale) answers: degraded, not down, so a
    // load balancer keeps the instance while an operator is told.
    const status = !healthy ? 'unhealthy' : sync?.status === 'degraded' ? 'degraded' : 'healthy'
    return reply.code(healthy ? 200 : 503).send({
      status,
      queue_enabled: queue !== undefined,
      dependencies,
      ...(sync ? { sync } : {}),
    })
  })

  app.get('/events/queue/status', { config: { scope: 'read' }, schema: queueStatusRouteSchema }, async () => {
    // The sync's lag is read from PostgreSQL; while it is away the queue's own figures matter most.
    const [status, sync] = await Promise.all([
      queue ? queue.status() : { enabled: false },
      analytics?.lag().catch((err: Error) => ({ error: `lag unknown: ${err.message}` })),
    ])
    return sync ? { ...status, sync } : status
  })
}

// Encapsulated, but named: it needs openapi registered first, for its shapes and so its routes are documented.
export const healthRoutes = fp(routes, { name: 'health', dependencies: ['openapi'], encapsulate: true })
