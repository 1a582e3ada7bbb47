import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Analytics } from '../analytics/analytics.ts'
import type { EventQueue } from '../queue/event-queue.ts'
import type { EventStore } from '../store/event-store.ts'
import { withTimeout } from '../timeout.ts'
import {
  HealthResponse,
  healthRouteSchema,
  QueueStatusResponse,
  queueStatusRouteSchema,
} from './schemas.ts'

export interface HealthRoutesOptions {
  store: EventStore
  /** which database holds the events: a PostgreSQL server, or PGlite embedded */
  engine: 'postgresql' | 'pglite'
  queue: EventQueue | undefined
  analytics: Analytics | undefined
}

const CHECK_TIMEOUT_MS = 2_000

// /health is open: why a dependency is down (host names, addresses, driver
// messages) goes to the log, and the answer says only up or down.
async function check(
  dependency: string,
  log: FastifyBaseLogger,
  probe: () => Promise<void>,
): Promise<{ status: 'up' | 'down'; latency_ms: number }> {
  const started = performance.now()
  try {
    await withTimeout(probe(), CHECK_TIMEOUT_MS)
    return { status: 'up', latency_ms: Math.round(performance.now() - started) }
  } catch (err) {
    log.warn({ err, dependency }, 'health check failed')
    return { status: 'down', latency_ms: Math.round(performance.now() - started) }
  }
}

const routes: FastifyPluginAsync<HealthRoutesOptions> = async (
  app,
  { store, engine, queue, analytics },
) => {
  app.openApiComponent('HealthResponse', HealthResponse)
  app.openApiComponent('QueueStatus', QueueStatusResponse)

  // Open: load balancers and orchestrators probe it without a key.
  app.get(
    '/health',
    { config: { scope: 'open' }, schema: healthRouteSchema },
    async (request, reply) => {
      const [database, redis, sync] = await Promise.all([
        check('database', request.log, () => store.ping()),
        queue ? check('redis', request.log, () => queue.ping()) : Promise.resolve(undefined),
        analytics
          ? withTimeout(analytics.syncStatus(request.log), CHECK_TIMEOUT_MS).catch((err: Error) => {
              request.log.warn({ err }, 'sync status unknown')
              return undefined
            })
          : Promise.resolve(undefined),
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
    },
  )

  app.get(
    '/events/queue/status',
    { config: { scope: 'read' }, schema: queueStatusRouteSchema },
    async (request) => {
      const project = request.project!
      // The sync's lag is read from PostgreSQL; while it is away the queue's own figures matter most.
      const [status, sync] = await Promise.all([
        queue?.status(project.id),
        analytics
          ?.replicaOf(project.id)
          .then(() => analytics.lagOf(project.id))
          .catch((err: Error) => {
            request.log.warn({ err }, 'sync lag unknown')
            return { error: 'lag unknown: the database could not be read' }
          }),
      ])
      // The whole queue counts other projects' events: only a service-wide caller sees it.
      const serviceWide = request.principal === undefined || request.principal.projectId === null
      const figures = status
        ? { ...status, shared: serviceWide ? status.shared : undefined }
        : { enabled: false }
      return { ...figures, project: project.name, ...(sync ? { sync } : {}) }
    },
  )
}

// Encapsulated, but named: it needs openapi registered first, for its shapes and so its routes are documented.
export const healthRoutes = fp(routes, {
  name: 'health',
  dependencies: ['openapi'],
  encapsulate: true,
})
