import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { BodyError, decodeBody, tooLarge } from '../compat/body.ts'
import { IdentityStore } from '../compat/identity-store.ts'
import { type CompatObserver, type Draft, type IntakeDeps, takeMessages } from '../compat/intake.ts'
import { WarningsStore } from '../compat/warnings-store.ts'
import { AppError } from '../errors.ts'
import type { IngestService } from '../events/ingest-service.ts'
import type { BatchLimits } from '../events/validate-batch.ts'
import { QueueFullError } from '../queue/event-queue.ts'
import type { SqlClient } from '../store/sql-client.ts'
import {
  COLLECT_FIELDS,
  COLLECT_LIMITS,
  collectBodyKey,
  collectDraft,
  collectRequest,
} from './collect.ts'
import type { Enricher } from './enrich.ts'
import { posthogStartRoutes } from './posthog-start.ts'
import { collectRouteSchema, scriptRouteSchema } from './schemas.ts'
import { buildScript, type Script } from './script.ts'
import { isBot } from './user-agent.ts'
import { hashedVisitorId } from './visitor-id.ts'
import type { DailySalt } from './visitor-salt.ts'

export interface WebObserver extends CompatObserver {
  botMessagesDropped(source: string, count: number): void
}

export interface WebIntakeOptions {
  ingest: IngestService
  db: SqlClient
  limits: Omit<BatchLimits, 'maxBatchSize'>
  metrics: WebObserver
  salts: DailySalt
  enricher: Enricher
}

const BODY_LIMITS = { maxBytes: COLLECT_LIMITS.bytes, tooLargeStatus: 413 as const }
// Revalidated often (a new version is live within this), cheaply (304 by ETag).
const SCRIPT_CACHE = 'public, max-age=3600, stale-while-revalidate=86400'

/** The messages of a bot's request, each refused as one (a warning with reason "bot"). */
export function botDrafts(ids: readonly string[], userAgent: string | undefined): Draft[] {
  const message = userAgent ? `is a known bot or crawler (${userAgent.slice(0, 200)})` : 'is absent'
  return ids.map((id) => ({
    id,
    rejected: { reason: 'bot', errors: [{ field: 'User-Agent', message }] },
  }))
}

/**
 * The browser's intake: GET /script.js, POST /collect (what the script
 * sends), and the routes posthog-js asks on start. /collect hands its
 * messages to the same intake as the SDK routes (src/compat/intake.ts).
 */
const routes: FastifyPluginAsync<WebIntakeOptions> = async (app, options) => {
  const { ingest, db, limits, metrics, salts, enricher } = options
  const deps: IntakeDeps = {
    ingest,
    identities: new IdentityStore(db),
    warnings: new WarningsStore(db),
    limits,
    observer: metrics,
  }

  let script: Promise<Script> | undefined
  const getScript = () => {
    script ??= buildScript().catch((err: unknown) => {
      script = undefined
      throw err
    })
    return script
  }

  app.get(
    '/script.js',
    { config: { scope: 'open' }, schema: scriptRouteSchema },
    async (request, reply) => {
      const { body, etag } = await getScript()
      reply
        .header('etag', etag)
        .header('cache-control', SCRIPT_CACHE)
        // Any page may load it, and read it (a page may add integrity= to its tag).
        .header('access-control-allow-origin', '*')
        .header('cross-origin-resource-policy', 'cross-origin')
      // 304 is left out of the route's documented responses: OpenAPI would give it a JSON body.
      if (request.headers['if-none-match'] === etag) return reply.code(304 as 200).send()
      return reply.type('text/javascript; charset=utf-8').send(body)
    },
  )

  // A beacon's body is text/plain; fetch's may be anything: every body is taken as bytes.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
  // Decoded before access control's preHandler looks for the key in it.
  app.addHook('preValidation', async (request) => {
    // posthog-js's start-up routes answer the same whatever their body says.
    if (!Buffer.isBuffer(request.body) || request.routeOptions.url !== '/collect') return
    request.body = await decodeBody(request.body, BODY_LIMITS, {
      contentEncoding: request.headers['content-encoding'],
    })
  })
  app.setErrorHandler((err: Error & { code?: string }) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE')
      throw tooLarge(BODY_LIMITS, `the body is over ${BODY_LIMITS.maxBytes} bytes`)
    throw err
  })

  app.post(
    '/collect',
    {
      config: { scope: 'write', ingestion: true, key: { body: collectBodyKey } },
      schema: collectRouteSchema,
      bodyLimit: COLLECT_LIMITS.bytes,
      validatorCompiler: () => (value) => ({ value }),
    },
    async (request: FastifyRequest, reply) => {
      const received = Date.now()
      const project = request.project!
      if (request.body === undefined || request.body === null)
        throw new BodyError(400, 'MALFORMED_BODY', 'the body is empty')
      const req = collectRequest(request.body)
      const base = { status: 1 as const, received_at: new Date(received).toISOString() }
      // The page asked not to be tracked and the project honours it: nothing is kept, not even a warning.
      const gpc = req.gpc || request.headers['sec-gpc'] === '1'
      if (gpc && project.honor_gpc)
        return reply.code(200).send({
          ...base,
          received: req.messages.length,
          events: 0,
          duplicates: 0,
          identities: 0,
          rejected: 0,
          gpc: true,
        })
      const userAgent = request.headers['user-agent']
      const persistent = project.persistent_visitor_id
      const visitor =
        persistent && req.anonymousId !== undefined
          ? req.anonymousId
          : await hashedVisitorId(salts, project.id, request.ip, userAgent ?? '', received)
      let drafts: Draft[]
      if (isBot(userAgent)) {
        const none = { browser: '', os: '', device: '' }
        const ids = req.messages.map(
          (m) => collectDraft(m, req, project.id, visitor, none, received).id,
        )
        drafts = botDrafts(ids, userAgent)
        metrics.botMessagesDropped('web', drafts.length)
      } else {
        const facts = enricher.facts(userAgent!, request.ip)
        drafts = req.messages.map((m) => collectDraft(m, req, project.id, visitor, facts, received))
      }
      let counts
      try {
        counts = await takeMessages(
          deps,
          'web',
          COLLECT_FIELDS,
          req.messages,
          drafts,
          project,
          request.id,
          received,
        )
      } catch (err) {
        if (err instanceof QueueFullError)
          throw new AppError(503, 'QUEUE_FULL', 'the ingestion queue is full; retry later', {
            headers: { 'retry-after': String(err.retryAfterSeconds) },
          })
        throw err
      }
      return reply.code(200).send({
        ...base,
        ...counts,
        ...(persistent && req.anonymousId === undefined ? { anonymous_id: visitor } : {}),
        ...(!persistent && req.anonymousId !== undefined ? { forget_anonymous_id: true } : {}),
      })
    },
  )

  await app.register(posthogStartRoutes)
}

// Encapsulated (its content-type parser is its own), but named: it needs openapi first, so its routes are documented.
export const webIntakeRoutes = fp(routes, {
  name: 'web-intake',
  dependencies: ['openapi'],
  encapsulate: true,
})
