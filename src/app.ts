import { randomUUID } from 'node:crypto'
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  LogController,
} from 'fastify'
import { compatRoutes } from './compat/plugin.ts'
import { dashboardPlugin } from './dashboard/plugin.ts'
import type { DeletionRunner } from './deletion/deletion-runner.ts'
import { deletionRoutes } from './deletion/routes.ts'
import type { Deps } from './deps.ts'
import { AppError } from './errors.ts'
import { eventRoutes } from './events/routes.ts'
import { countEvents } from './events/validate-batch.ts'
import { exportRoutes } from './export/routes.ts'
import { healthRoutes } from './health/routes.ts'
import { installAccessControl } from './http/access-control.ts'
import { AuthFailureGuard } from './http/auth-failures.ts'
import { emptyMeansAbsent } from './http/empty-values.ts'
import { metricsPlugin } from './http/metrics.ts'
import { openApiPlugin } from './http/openapi.ts'
import {
  clientErrorHandler,
  frameworkErrors,
  PROBLEM_TYPE,
  sendProblem,
  toProblem,
} from './http/problems.ts'
import { AJV_OPTIONS, toValidationError } from './http/validation-errors.ts'
import { projectRoutes } from './projects/routes.ts'
import { statsRoutes } from './stats/routes.ts'
import { userRoutes } from './users/routes.ts'
import { installCors } from './web-intake/cors.ts'
import { webIntakeRoutes } from './web-intake/plugin.ts'

export type AppDeps = Omit<Deps, 'close'>

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export async function buildApp(
  deps: AppDeps,
  options: { runner?: DeletionRunner } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: deps.config.limits.maxBodyBytes,
    // Take the client's X-Request-Id when it is sane, otherwise make one; it is
    // echoed back and carried into the queue entry for the worker's logs.
    // Fastify would take a requestIdHeader as sent without asking genReqId.
    requestIdHeader: false,
    genReqId: (req) => {
      const given = req.headers['x-request-id']
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID()
    },
    // Fastify's two lines per request are replaced by the one onResponse writes.
    logController: new LogController({
      requestIdLogLabel: 'request_id',
      disableRequestLogging: true,
    }),
    // Fastify's own 503 while closing has its own body shape: the onRequest hook below answers instead.
    return503OnClosing: false,
    // Errors found before a route runs get the same problem body as the rest.
    clientErrorHandler,
    frameworkErrors,
    // A client that stalls (headers or body) or idles must not hold a socket for ever.
    requestTimeout: deps.config.http.requestTimeoutMs,
    keepAliveTimeout: deps.config.http.keepAliveTimeoutMs,
    connectionTimeout: deps.config.http.connectionTimeoutMs,
    // Node 20 checks a body's deadline only with requestTimeout given to the
    // server's constructor (Fastify sets it afterwards), and looks for expired
    // requests only every connectionsCheckingInterval (30 s by default).
    http: {
      requestTimeout: deps.config.http.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(
        5_000,
        Math.ceil(deps.config.http.requestTimeoutMs / 4),
      ),
    },
    trustProxy: deps.config.trustProxy,
    // Schema failures become the same 422 body as the hand checks' (validation-errors.ts).
    ajv: { customOptions: AJV_OPTIONS },
    schemaErrorFormatter: toValidationError,
  })

  // Only JSON is accepted; Fastify's built-in text/plain parser would let other bodies through to validation.
  app.removeContentTypeParser('text/plain')
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
    if (closing) {
      reply.header('connection', 'close')
      throw new AppError(503, 'SHUTTING_DOWN', 'this process is shutting down; retry', {
        headers: { 'retry-after': '1' },
      })
    }
  })
  app.addHook('preValidation', emptyMeansAbsent)
  // One line per request, with what an operator looks for.
  app.addHook('onResponse', async (request, reply) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? request.url,
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 10) / 10,
        events: countEvents(request.body),
      },
      'request completed',
    )
  })

  app.setErrorHandler((err: FastifyError | AppError | Error, request, reply) => {
    const problem = toProblem(err)
    if (problem.status >= 500) request.log.error({ err }, 'request failed')
    return sendProblem(problem, request, reply)
  })
  app.setNotFoundHandler((request, reply) => {
    return reply
      .code(404)
      .type(PROBLEM_TYPE)
      .send({
        type: 'about:blank',
        title: 'Not Found',
        status: 404,
        code: 'NOT_FOUND',
        detail: `no route for ${request.method} ${request.url}`,
        instance: request.url,
        request_id: request.id,
      })
  })

  installAccessControl(app, {
    authenticator: deps.authenticator,
    projects: deps.projects,
    limiter: deps.rateLimits,
    policy: deps.config.rateLimit,
    publicPolicy: deps.config.publicRateLimit,
    log: deps.log.child({ component: 'access' }),
    failures: new AuthFailureGuard(deps.rateLimits, deps.config.authFailures),
    observer: deps.metrics,
  })
  // Before every route, so it sees each ingestion route as it is added.
  installCors(app, { readOrigins: deps.config.readCorsOrigins })
  // First of the plugins that add routes: @fastify/swagger documents only routes added after it.
  await app.register(openApiPlugin)
  // Before the routes, so its onResponse hook times all of them.
  await app.register(metricsPlugin, { metrics: deps.metrics })
  await app.register(eventRoutes, {
    ingest: deps.ingest,
    limits: deps.config.limits,
    idempotency: deps.idempotency,
    metrics: deps.metrics,
  })
  await app.register(compatRoutes, {
    ingest: deps.ingest,
    db: deps.db,
    limits: deps.config.limits,
    metrics: deps.metrics,
    enricher: deps.web.enricher,
  })
  await app.register(webIntakeRoutes, {
    ingest: deps.ingest,
    db: deps.db,
    limits: deps.config.limits,
    metrics: deps.metrics,
    ...deps.web,
  })
  await app.register(healthRoutes, {
    store: deps.store,
    engine: deps.db.kind === 'server' ? 'postgresql' : 'pglite',
    queue: deps.queue,
    analytics: deps.analytics,
  })
  await app.register(projectRoutes, { projects: deps.projects })
  await app.register(deletionRoutes, {
    deletions: deps.deletions,
    suppressions: deps.suppressions,
    runner: options.runner,
  })
  await app.register(dashboardPlugin)
  await app.register(exportRoutes, {
    db: deps.db,
    analytics: deps.analytics,
    retentionDays: deps.config.retention.days,
  })
  if (deps.analytics) {
    await app.register(statsRoutes, {
      analytics: deps.analytics,
      maxRangeDays: deps.config.analytics.maxRangeDays,
    })
    await app.register(userRoutes, { analytics: deps.analytics })
  }
  return app
}
