import type { FastifyError, FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { AppError } from '../errors.ts'
import type { IngestService } from '../events/ingest-service.ts'
import type { BatchLimits } from '../events/validate-batch.ts'
import { QueueFullError } from '../queue/event-queue.ts'
import type { SqlClient } from '../store/sql-client.ts'
import type { Enricher } from '../web-intake/enrich.ts'
import { enrichPosthogDrafts } from '../web-intake/posthog-enrich.ts'
import { BodyError, type BodyLimits, decodeBody, tooLarge } from './body.ts'
import { eventIdOf, uuidV5 } from './event-id.ts'
import { IdentityStore, type Source } from './identity-store.ts'
import { type CompatObserver, type Draft, type IntakeDeps, takeMessages } from './intake.ts'
import { nestingOver } from './json-text.ts'
import { isRecord } from './message-fields.ts'
import {
  POSTHOG_FIELDS,
  POSTHOG_LIMITS,
  posthogBodyKey,
  posthogDraft,
  posthogRequest,
} from './posthog.ts'
import { posthogRouteSchema, segmentRouteSchema } from './schemas.ts'
import {
  SEGMENT_FIELDS,
  SEGMENT_LIMITS,
  SEGMENT_TYPES,
  type SegmentType,
  segmentBodyKey,
  segmentDraft,
  segmentRequest,
} from './segment.ts'
import { warningsRoutes } from './warnings-routes.ts'
import { WarningsStore } from './warnings-store.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** an SDK route: which protocol, so its body is decoded within that protocol's limits */
    sdk?: Exclude<Source, 'web'>
  }
}

export interface CompatRoutesOptions {
  ingest: IngestService
  db: SqlClient
  limits: Omit<BatchLimits, 'maxBatchSize'> & { maxBodyBytes: number }
  metrics: CompatObserver & { botMessagesDropped(source: string, count: number): void }
  /** posthog-js's events get the browser facts /collect's get (src/web-intake/posthog-enrich.ts) */
  enricher: Enricher
}

const POSTHOG_PATHS = [
  ['/batch', 'Batch'],
  ['/capture', 'Capture'],
  ['/e', 'E'],
  ['/i/v0/e', 'IV0E'],
  ['/track', 'Track'],
] as const

// Deeper than this a message is refused before anything serialises it (JSON.stringify recurses).
const MAX_MESSAGE_DEPTH = 64

/**
 * The endpoints existing SDKs send to: Segment's /v1/* (RudderStack's Node SDK
 * too) and PostHog's capture paths, each with and without a trailing slash.
 * Each decodes its body, maps its messages (segment.ts, posthog.ts) and hands
 * them to the same intake as POST /events (intake.ts).
 */
const routes: FastifyPluginAsync<CompatRoutesOptions> = async (app, options) => {
  const { ingest, db, limits, metrics, enricher } = options
  const deps: IntakeDeps = {
    ingest,
    identities: new IdentityStore(db),
    warnings: new WarningsStore(db),
    limits,
    observer: metrics,
  }
  // A Segment message may be 32 KB, and its properties (context included) all
  // of that: the service's own property limit, if smaller, would refuse what
  // Segment accepts.
  const segmentDeps: IntakeDeps = {
    ...deps,
    limits: {
      ...limits,
      maxPropertiesBytes: Math.max(limits.maxPropertiesBytes, SEGMENT_LIMITS.messageBytes),
    },
  }
  const bodyLimits: Record<Exclude<Source, 'web'>, BodyLimits> = {
    segment: { maxBytes: SEGMENT_LIMITS.requestBytes, tooLargeStatus: 400 },
    posthog: { maxBytes: limits.maxBodyBytes, tooLargeStatus: 413 },
  }
  const sourceOf = (request: FastifyRequest) => request.routeOptions.config.sdk!

  // Every body is taken as bytes and judged by decodeBody, whatever its Content-Type says.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))

  // Decoded before the body key is looked for (access control's preHandler) and before the handler.
  app.addHook('preValidation', async (request) => {
    if (!Buffer.isBuffer(request.body)) return
    const source = sourceOf(request)
    const query = request.query as Record<string, unknown>
    try {
      request.body = await decodeBody(request.body, bodyLimits[source], {
        compression: typeof query.compression === 'string' ? query.compression : undefined,
        contentEncoding: request.headers['content-encoding'],
      })
    } catch (err) {
      if (err instanceof BodyError) metrics.compatRequestRefused(source, refusal(err))
      throw err
    }
  })
  // Browsers' beacons and posthog-js post from pages of other origins: CORS is
  // the ingestion routes' one mechanism (src/web-intake/cors.ts).
  // Segment's API sends X-RateLimit-Reset as the epoch milliseconds of the
  // reset, and @segment/analytics-node 2.x waits `reset - Date.now()`: our
  // seconds would read as a reset long past, retried at once until the client
  // gives the batch up. On Segment's paths the header is said Segment's way.
  app.addHook('onSend', async (request, reply) => {
    const reset = reply.getHeader('x-ratelimit-reset')
    if (reset === undefined || request.routeOptions.config.sdk !== 'segment') return
    reply.header('x-ratelimit-reset', String(Date.now() + Number(reset) * 1000))
  })
  // A body over the route's limit is refused by Fastify before it is read: said in the source's own terms.
  app.setErrorHandler((err: FastifyError, request) => {
    if (err.code !== 'FST_ERR_CTP_BODY_TOO_LARGE' || !request.routeOptions.config.sdk) throw err
    const source = sourceOf(request)
    metrics.compatRequestRefused(source, 'too_large')
    throw tooLarge(
      bodyLimits[source],
      `the body is over ${bodyLimits[source].maxBytes} bytes${source === 'segment' ? " (Segment's limit is 500 KB a request)" : ''}`,
    )
  })

  const run = async (source: Source, work: () => ReturnType<typeof takeMessages>) => {
    try {
      return await work()
    } catch (err) {
      if (err instanceof QueueFullError)
        throw new AppError(503, 'QUEUE_FULL', 'the ingestion queue is full; retry later', {
          headers: { 'retry-after': String(err.retryAfterSeconds) },
        })
      if (err instanceof BodyError) metrics.compatRequestRefused(source, refusal(err))
      throw err
    }
  }
  const requireBody = (request: FastifyRequest, source: Source) => {
    if (request.body !== undefined && request.body !== null) return request.body
    metrics.compatRequestRefused(source, 'malformed')
    throw new BodyError(400, 'MALFORMED_BODY', 'the body is empty')
  }

  for (const type of ['batch', ...SEGMENT_TYPES] as const) {
    for (const path of [`/v1/${type}`, `/v1/${type}/`]) {
      app.post(
        path,
        {
          config: {
            scope: 'write',
            ingestion: true,
            key: { basic: true, body: segmentBodyKey },
            sdk: 'segment',
          },
          schema: segmentRouteSchema(path, type),
          bodyLimit: SEGMENT_LIMITS.requestBytes,
          validatorCompiler: () => (value) => ({ value }),
        },
        async (request, reply) => {
          const received = Date.now()
          const project = request.project!
          const counts = await run('segment', async () => {
            const body = requireBody(request, 'segment')
            const req = segmentRequest(body, type)
            checkCount(req.messages.length, SEGMENT_LIMITS.messages, 400)
            const drafts = req.messages.map(
              (message, index) =>
                tooDeep(message, index, project.id, request.id, 'messageId') ??
                segmentSized(message, index) ??
                segmentDraft(message, req, type as SegmentType | 'batch', project.id, received),
            )
            return takeMessages(
              segmentDeps,
              'segment',
              SEGMENT_FIELDS,
              req.messages,
              drafts,
              project,
              request.id,
              received,
            )
          })
          return reply
            .code(200)
            .send({ success: true, ...counts, received_at: new Date(received).toISOString() })
        },
      )
    }
  }

  for (const [base, name] of POSTHOG_PATHS) {
    for (const path of [base, `${base}/`]) {
      app.post(
        path,
        {
          config: {
            scope: 'write',
            ingestion: true,
            key: { body: posthogBodyKey },
            sdk: 'posthog',
          },
          schema: posthogRouteSchema(path, name),
          bodyLimit: limits.maxBodyBytes,
          validatorCompiler: () => (value) => ({ value }),
        },
        async (request, reply) => {
          const received = Date.now()
          const project = request.project!
          const counts = await run('posthog', async () => {
            const body = requireBody(request, 'posthog')
            const req = posthogRequest(body, request.query as Record<string, unknown>)
            checkCount(req.messages.length, POSTHOG_LIMITS.messages, 413)
            const drafts = req.messages.map(
              (message, index) =>
                tooDeep(message, index, project.id, request.id, 'uuid') ??
                posthogDraft(message, req, project.id, received),
            )
            const enriched = enrichPosthogDrafts(
              drafts,
              request.headers['user-agent'],
              request.ip,
              enricher,
              (n) => metrics.botMessagesDropped('posthog', n),
            )
            return takeMessages(
              deps,
              'posthog',
              POSTHOG_FIELDS,
              req.messages,
              enriched,
              project,
              request.id,
              received,
            )
          })
          return reply
            .code(200)
            .send({ status: 1, ...counts, received_at: new Date(received).toISOString() })
        },
      )
    }
  }

  await app.register(warningsRoutes, { warnings: deps.warnings })
}

function checkCount(count: number, max: number, status: 400 | 413): void {
  if (count > max)
    throw new BodyError(
      status,
      'TOO_MANY_MESSAGES',
      `the request holds ${count} messages; a request may hold at most ${max}`,
    )
}

/** A message nested too deep to be serialised safely: refused, with an id from its own id or its place. */
function tooDeep(
  message: unknown,
  index: number,
  project: number,
  requestId: string,
  idField: string,
): Draft | undefined {
  if (!nestingOver(message, MAX_MESSAGE_DEPTH)) return undefined
  const own = isRecord(message) ? message[idField] : undefined
  const id =
    typeof own === 'string' && own.length > 0
      ? eventIdOf(project, own)
      : uuidV5('00000000-0000-0000-0000-000000000000', `${project}:${requestId}:${index}`)
  return {
    id,
    rejected: {
      reason: 'too_deep',
      errors: [
        {
          field: 'message',
          message: `nests more than ${MAX_MESSAGE_DEPTH} levels of objects and arrays`,
        },
      ],
    },
    keep: false,
  }
}

/** Segment's 32 KB a message: past it the whole request is refused, as Segment does (its clients never send one). */
function segmentSized(message: unknown, index: number): undefined {
  const bytes = Buffer.byteLength(JSON.stringify(message) ?? '')
  if (bytes > SEGMENT_LIMITS.messageBytes)
    throw new BodyError(
      400,
      'MESSAGE_TOO_LARGE',
      `message ${index} is ${bytes} bytes as JSON; a message may be at most ${SEGMENT_LIMITS.messageBytes} (Segment's limit)`,
    )
  return undefined
}

/** The metric's reason label of a refused request. */
function refusal(err: BodyError): string {
  switch (err.code) {
    case 'REQUEST_TOO_LARGE':
      return 'too_large'
    case 'MESSAGE_TOO_LARGE':
      return 'message_too_large'
    case 'TOO_MANY_MESSAGES':
      return 'too_many_messages'
    case 'NO_MESSAGES':
      return 'no_messages'
    default:
      return 'malformed'
  }
}

// Encapsulated (its content-type parser is its own), but named: it needs openapi first, so its routes are documented.
export const compatRoutes = fp(routes, {
  name: 'compat',
  dependencies: ['openapi'],
  encapsulate: true,
})
