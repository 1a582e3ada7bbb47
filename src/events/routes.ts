import type { FastifyPluginAsync } from 'fastify'
import { AppError } from '../errors.ts'
import { QueueFullError } from '../queue/event-queue.ts'
import type { IngestService } from './ingest-service.ts'
import { ingestRouteSchema } from './route-schema.ts'
import { validateBatch, type BatchLimits } from './validate-batch.ts'

export interface EventRoutesOptions {
  ingest: IngestService
  limits: BatchLimits
}

export const eventRoutes: FastifyPluginAsync<EventRoutesOptions> = async (app, { ingest, limits }) => {
  app.post(
    '/events',
    {
      schema: ingestRouteSchema,
      // The body is validated by validateBatch, which reports every bad field of
      // every event at once and checks what a schema cannot (clock skew, sizes).
      validatorCompiler: () => (value) => ({ value }),
    },
    async (request, reply) => {
      const events = validateBatch(request.body, limits)
      try {
        const result = await ingest.ingest(events, request.id)
        return reply.code(result.status).send(result.body)
      } catch (err) {
        if (err instanceof QueueFullError) {
          throw new AppError(503, 'QUEUE_FULL', 'the ingestion queue is full; retry later', {
            headers: { 'retry-after': String(err.retryAfterSeconds) },
          })
        }
        throw err
      }
    },
  )
}
