import Type from 'typebox'
import {
  jsonResponse,
  problemResponses,
  rateLimited,
  SECURED,
  SECURED_STATUSES,
} from '../http/problem-schema.ts'
import { ProjectQuery } from '../projects/project-param.ts'
import { IngestBody, IngestResponse } from './event-schema.ts'

// What POST /events documents: the shapes come from event-schema.ts, the errors
// from the shared Problem schema.
const events = [
  {
    event_id: '0b9f5c4e-6a1d-4f7e-9c2b-8e3d7a6f1c05',
    occurred_at: '2026-11-01T12:00:00Z',
    user_id: 'user-42',
    event_type: 'page_view',
    properties: { page: '/pricing' },
  },
  {
    event_id: 'c3a1e2d4-5b6f-4a8c-9d0e-1f2a3b4c5d6e',
    occurred_at: '2026-11-01T12:00:05.250+01:00',
    user_id: 'user-42',
    event_type: 'signup',
  },
]

export const ingestRouteSchema = {
  tags: ['events'],
  querystring: ProjectQuery,
  operationId: 'ingestEvents',
  summary: 'Ingest a batch of events',
  description:
    'Idempotent by event_id: the first stored version wins. 1 to MAX_BATCH_SIZE events; any invalid event rejects the whole ' +
    'request with one error per bad field. 201 when written before answering, 202 when queued for the worker. ' +
    'With an Idempotency-Key header, a retry with the same key and body gets the first answer again (Idempotent-Replayed: true) ' +
    'for at least 24 hours; the same key with another body is 422, and while the first request is still running, 409.',
  headers: Type.Object({
    'idempotency-key': Type.Optional(
      Type.String({
        pattern: '^[\\x21-\\x7e]{1,255}$',
        description: 'scoped to the API key',
        examples: ['batch-2026-11-01-0042'],
      }),
    ),
  }),
  security: SECURED,
  // The body's schema documents it; validateBatch checks it (see routes.ts).
  body: { ...IngestBody, examples: [{ events }, [events[0]]] },
  response: {
    201: rateLimited(
      jsonResponse('Stored (no queue)', IngestResponse, {
        example: { total_received: 2, inserted: 2, duplicates: 0, message: 'events stored' },
      }),
    ),
    202: rateLimited(
      jsonResponse('Accepted for insertion by the worker (queue enabled)', IngestResponse, {
        example: {
          total_received: 2,
          inserted: 1,
          duplicates: 1,
          message: 'events accepted for processing',
        },
      }),
    ),
    ...problemResponses('/events', [400, ...SECURED_STATUSES, 404, 409, 413, 415, 422, 500, 503]),
  },
}
