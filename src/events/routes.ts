import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { AppError, ValidationError } from '../errors.ts'
import type { Metrics } from '../metrics.ts'
import type { Project } from '../projects/project-store.ts'
import { QueueFullError } from '../queue/event-queue.ts'
import { EventInput, IngestResponse } from './event-schema.ts'
import { bodyDigest, IDEMPOTENCY_KEY, type IdempotencyStore } from './idempotency.ts'
import type { IngestResult, IngestService } from './ingest-service.ts'
import { ingestRouteSchema } from './route-schema.ts'
import { type BatchLimits, countEvents, validateBatch } from './validate-batch.ts'

export interface EventRoutesOptions {
  ingest: IngestService
  limits: BatchLimits
  idempotency: IdempotencyStore
  metrics: Pick<Metrics, 'eventsRejected'>
}

// Compressed bodies are not decoded yet: without this check a gzip body reaches
// the JSON parser and is answered "not valid JSON", which misleads the client.
const IDENTITY = /^\s*(identity\s*(,\s*identity\s*)*)?$/i

const routes: FastifyPluginAsync<EventRoutesOptions> = async (
  app,
  { ingest, limits, idempotency, metrics },
) => {
  app.openApiComponent('EventInput', EventInput)
  app.openApiComponent('IngestResponse', IngestResponse)

  app.addHook('preParsing', async (request) => {
    const encoding = request.headers['content-encoding']
    if (encoding === undefined || IDENTITY.test(encoding)) return
    throw new AppError(
      415,
      'UNSUPPORTED_CONTENT_ENCODING',
      `Content-Encoding ${encoding} is not supported; send the body uncompressed`,
      {
        headers: { 'accept-encoding': 'identity' },
      },
    )
  })
  const run = async (
    events: ReturnType<typeof validateBatch>,
    project: Project,
    requestId: string,
    propertiesJson: readonly string[],
  ): Promise<IngestResult> => {
    try {
      return await ingest.ingest(events, project, requestId, propertiesJson)
    } catch (err) {
      if (err instanceof QueueFullError) {
        throw new AppError(503, 'QUEUE_FULL', 'the ingestion queue is full; retry later', {
          headers: { 'retry-after': String(err.retryAfterSeconds) },
        })
      }
      throw err
    }
  }

  app.post(
    '/events',
    {
      config: { scope: 'write', ingestion: true },
      schema: ingestRouteSchema,
      // The body is validated by validateBatch, which reports every bad field of
      // every event at once and checks what a schema cannot (clock skew, sizes).
      validatorCompiler: () => (value) => ({ value }),
      // The events of a refused batch never reach the ingest service, so they are counted here.
      onResponse: async (request, reply) => {
        if (reply.statusCode === 422) metrics.eventsRejected(countEvents(request.body) ?? 0)
      },
    },
    async (request, reply) => {
      // Validation serialises each event's properties to check their size; the queue reuses that.
      const propertiesJson: string[] = []
      const events = validateBatch(request.body, limits, Date.now(), propertiesJson)
      const project = request.project!
      const key = request.headers['idempotency-key']
      if (key === undefined) {
        const result = await run(events, project, request.id, propertiesJson)
        return reply.code(result.status).send(result.body)
      }
      if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key)) {
        throw new ValidationError('invalid Idempotency-Key', [
          { field: 'Idempotency-Key', message: 'must be 1 to 255 printable ASCII characters' },
        ])
      }
      // Keys are scoped per API key and project: two clients may pick the same one.
      const owner = request.principal?.id ?? 'anonymous'
      const claim = await idempotency.claim(project.id, owner, key, bodyDigest(request.body))
      if (claim.kind === 'mismatch') {
        throw new ValidationError('this Idempotency-Key was used with a different body', [
          { field: 'Idempotency-Key', message: 'already used with a different request body' },
        ])
      }
      if (claim.kind === 'in-progress') {
        throw new AppError(
          409,
          'IDEMPOTENCY_KEY_IN_USE',
          'a request with this Idempotency-Key is still being processed; retry shortly',
          {
            headers: { 'retry-after': '1' },
          },
        )
      }
      if (claim.kind === 'replay') {
        return reply
          .code(claim.status as IngestResult['status'])
          .header('idempotent-replayed', 'true')
          .send(claim.response)
      }
      let result: IngestResult
      try {
        result = await run(events, project, request.id, propertiesJson)
      } catch (err) {
        await idempotency.release(project.id, owner, key).catch(() => {})
        throw err
      }
      await idempotency.complete(project.id, owner, key, result.status, result.body)
      return reply.code(result.status).send(result.body)
    },
  )
}

// Encapsulated, but named: it needs openapi registered first, for its shapes and so its route is documented.
export const eventRoutes = fp(routes, {
  name: 'events',
  dependencies: ['openapi'],
  encapsulate: true,
})
