import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify'
import type { Deps } from './deps.ts'
import { AppError, STATUS_TITLES } from './errors.ts'
import { eventRoutes } from './events/routes.ts'
import { healthRoutes } from './health/routes.ts'
import { installAccessControl } from './http/access-control.ts'
import { dashboardPlugin } from './dashboard/plugin.ts'
import { countEvents } from './events/validate-batch.ts'
import { emptyMeansAbsent } from './http/empty-values.ts'
import { metricsPlugin } from './http/metrics.ts'
import { openApiPlugin } from './http/openapi.ts'
import { AJV_OPTIONS, toValidationError } from './http/validation-errors.ts'
import { statsRoutes } from './stats/routes.ts'
import { isTransient } from './transient-errors.ts'

export type AppDeps = Omit<Deps, 'close'>

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
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
    logController: new LogController({ requestIdLogLabel: 'request_id', disableRequestLogging: true }),
    return503OnClosing: true,
    trustProxy: deps.config.trustProxy,
    // Schema failures become the same 422 body as the hand checks' (validation-errors.ts).
    ajv: { customOptions: AJV_OPTIONS },
    schemaErrorFormatter: toValidationError,
  })

  // Only JSON is accepted; Fastify's built-in text/plain parser would let other bodies through to validation.
  app.removeContentTypeParser('text/plain')
  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
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
    for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value)
    return reply
      .code(problem.status)
      .type('application/problem+json')
      .send({ ...problem.body, instance: request.url, request_id: request.id })
  })
  app.setNotFoundHandler((request, reply) => {
    return reply.code(404).type('application/problem+json').send({
      type: 'about:blank', title: 'Not Found', status: 404, code: 'NOT_FOUND',
      detail: `no route for ${request.method} ${request.url}`, instance: request.url, request_id: request.id,
    })
  })

  installAccessControl(app, {
    authenticator: deps.authenticator, limiter: deps.rateLimits, policy: deps.config.rateLimit, log: deps.log.child({ component: 'access' }),
  })
  // First of the plugins that add routes: @fastify/swagger documents only routes added after it.
  await app.register(openApiPlugin)
  // Before the routes, so its onResponse hook times all of them.
  await app.register(metricsPlugin, { metrics: deps.metrics })
  await app.register(eventRoutes, { ingest: deps.ingest, limits: deps.config.limits, idempotency: deps.idempotency, metrics: deps.metrics })
  await app.register(healthRoutes, {
    store: deps.store, engine: deps.db.kind === 'server' ? 'postgresql' : 'pglite', queue: deps.queue, analytics: deps.analytics,
  })
  await app.register(dashboardPlugin)
  if (deps.analytics) await app.register(statsRoutes, { replica: deps.analytics.replica, maxRangeDays: deps.config.analytics.maxRangeDays })
  return app
}

interface Problem {
  status: number
  headers: Record<string, string>
  body: Record<string, unknown>
}


/** The single error body of the service: RFC 9457 problem details plus a stable `code`. */
function toProblem(err: FastifyError | AppError | Error): Problem {
  if (err instanceof AppError) {
    const body: Record<string, unknown> = {
      type: 'about:blank', title: STATUS_TITLES[err.statusCode] ?? 'Error', status: err.statusCode, code: err.code, detail: err.message,
    }
    if (err.extra.errors) body.errors = err.extra.errors
    return { status: err.statusCode, headers: err.extra.headers ?? {}, body }
  }
  const status = (err as FastifyError).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors: malformed JSON, body too large, wrong content type.
    const code = (err as FastifyError).code ?? 'BAD_REQUEST'
    return { status, headers: {}, body: { type: 'about:blank', title: STATUS_TITLES[status] ?? 'Bad Request', status, code: clientCode(code), detail: err.message } }
  }
  if (isTransient(err)) {
    return {
      status: 503, headers: { 'retry-after': '5' },
      body: { type: 'about:blank', title: STATUS_TITLES[503], status: 503, code: 'DEPENDENCY_UNAVAILABLE', detail: 'a backing service is unavailable; retry later' },
    }
  }
  // Never leak internals in a 5xx.
  return { status: 500, headers: {}, body: { type: 'about:blank', title: STATUS_TITLES[500], status: 500, code: 'INTERNAL_ERROR', detail: 'internal error' } }
}

function clientCode(fastifyCode: string): string {
  switch (fastifyCode) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': return 'BODY_TOO_LARGE'
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': return 'UNSUPPORTED_MEDIA_TYPE'
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY': return 'MALFORMED_JSON'
    default: return fastifyCode.startsWith('FST_') ? 'BAD_REQUEST' : fastifyCode
  }
}
