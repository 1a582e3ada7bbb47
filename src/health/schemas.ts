import Type, { type Static } from 'typebox'
import type { SyncLag } from '../analytics/analytics.ts'
import {
  jsonResponse,
  problemResponses,
  rateLimited,
  SECURED,
  SECURED_STATUSES,
} from '../http/problem-schema.ts'
import { ProjectQuery } from '../projects/project-param.ts'
import type { QueueStatus } from '../queue/event-queue.ts'

// Response shapes of the operations routes. Declaring them makes Fastify
// serialize through them (unknown members would be dropped), so objects stay
// open and the key checks at the bottom fail the type-check when the code's
// shapes gain or lose a field.
const open = { additionalProperties: true }

const Check = {
  status: Type.Union([Type.Literal('up'), Type.Literal('down')]),
  latency_ms: Type.Integer({ minimum: 0 }),
}

const SyncLagSchema = Type.Object(
  {
    rows_behind: Type.Integer({
      minimum: 0,
      description: 'rows stored but not yet in the analytics replica (capped)',
    }),
    ms_behind: Type.Integer({ minimum: 0, description: 'age of the oldest of those rows' }),
    synced_rows: Type.Integer({ minimum: 0 }),
    synced_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'last successful sync, null before the first',
    }),
  },
  open,
)
const SyncUnknown = Type.Object(
  { error: Type.String({ description: 'why the lag could not be read' }) },
  open,
)
export const HealthResponse = Type.Object(
  {
    status: Type.Union(
      [Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy')],
      {
        description:
          'degraded: every dependency is up but the analytics replica keeps failing or lags (see sync)',
      },
    ),
    queue_enabled: Type.Boolean(),
    dependencies: Type.Object(
      {
        database: Type.Object(
          { ...Check, engine: Type.Union([Type.Literal('postgresql'), Type.Literal('pglite')]) },
          open,
        ),
        redis: Type.Optional(
          Type.Object(Check, { ...open, description: 'present when the queue is enabled' }),
        ),
      },
      open,
    ),
    sync: Type.Optional(
      Type.Object(
        {
          status: Type.Union([Type.Literal('ok'), Type.Literal('degraded')]),
          reasons: Type.Array(Type.String(), { description: 'why it is degraded; empty when ok' }),
          consecutive_failures: Type.Integer({ minimum: 0 }),
          failures_total: Type.Integer({ minimum: 0 }),
          failing_since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
          last_error: Type.Union([Type.String(), Type.Null()], {
            description:
              'what the last failed chunk met, in words (the error itself is in the log), kept after recovery',
          }),
          last_error_at: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
          lag: Type.Union([SyncLagSchema, SyncUnknown]),
        },
        {
          ...open,
          description:
            'the analytics sync; absent without analytics or when its state could not be read in time',
        },
      ),
    ),
  },
  open,
)

const Sync = Type.Optional(
  Type.Union([SyncLagSchema, SyncUnknown], {
    description: 'the analytics sync; absent without analytics',
  }),
)

const ProjectName = Type.String({ description: 'the project these figures are of' })

const SharedQueue = Type.Optional(
  Type.Object(
    {
      length: Type.Integer({ minimum: 0, description: 'entries (requests) in the stream' }),
      queued_events: Type.Integer({ minimum: 0, description: 'events waiting to be stored' }),
      pending: Type.Integer({
        minimum: 0,
        description: 'entries delivered to a worker and not yet acknowledged',
      }),
      dead_lettered: Type.Integer({ minimum: 0 }),
      consumers: Type.Array(
        Type.Object(
          {
            name: Type.String(),
            pending: Type.Integer({ minimum: 0 }),
            idle_ms: Type.Integer({ minimum: 0 }),
          },
          open,
        ),
      ),
    },
    {
      ...open,
      description:
        "the whole queue, every project's entries and the workers: shown to service-wide keys only",
    },
  ),
)

const QueueEnabled = Type.Object(
  {
    enabled: Type.Literal(true),
    project: ProjectName,
    queued_events: Type.Integer({
      minimum: 0,
      description: "the project's events waiting to be stored",
    }),
    dead_lettered: Type.Integer({
      minimum: 0,
      description: "the project's dead-letter records",
    }),
    max_events: Type.Integer({
      minimum: 0,
      description: 'bound on the queued events of all projects; past it POST /events answers 503',
    }),
    shared: SharedQueue,
    sync: Sync,
  },
  { ...open, title: 'queue enabled' },
)
const QueueDisabled = Type.Object(
  { enabled: Type.Literal(false), project: ProjectName, sync: Sync },
  { ...open, title: 'queue disabled (events are written directly)' },
)

export const QueueStatusResponse = Type.Union([QueueEnabled, QueueDisabled])

// Compile-time drift checks: the documented keys are exactly the code's keys.
type SameKeys<A, B> = [Exclude<keyof A, keyof B> | Exclude<keyof B, keyof A>] extends [never]
  ? true
  : false
const drift: [
  SameKeys<Static<typeof QueueEnabled>, QueueStatus & { project: string; sync?: unknown }>,
  SameKeys<Static<typeof SyncLagSchema>, SyncLag>,
] = [true, true]
void drift

const deps = (database: 'up' | 'down') => ({
  database: { status: database, latency_ms: database === 'down' ? 2000 : 1, engine: 'postgresql' },
  redis: { status: 'up', latency_ms: 0 },
})

export const healthRouteSchema = {
  tags: ['operations'],
  operationId: 'getHealth',
  summary: 'Readiness: every dependency pinged',
  description:
    '200 when every required dependency answers within 2 s, 503 otherwise, with the same body. Open: no API key.',
  response: {
    200: jsonResponse('Every dependency is up', HealthResponse, {
      example: { status: 'healthy', queue_enabled: true, dependencies: deps('up') },
    }),
    503: jsonResponse('A required dependency is down', HealthResponse, {
      example: { status: 'unhealthy', queue_enabled: true, dependencies: deps('down') },
    }),
  },
}

export const queueStatusRouteSchema = {
  tags: ['operations'],
  operationId: 'getQueueStatus',
  summary: 'Queue backlog, consumers and analytics sync lag',
  description:
    'One project\'s queue figures when the queue is enabled, `{"enabled": false}` when events are written directly; `sync` (that project\'s replica) whenever analytics runs. `shared`, the whole queue, only for a service-wide key.',
  security: SECURED,
  querystring: ProjectQuery,
  response: {
    200: rateLimited(
      jsonResponse('Queue and sync status', QueueStatusResponse, {
        examples: {
          queue: {
            summary: 'queue enabled',
            value: {
              enabled: true,
              project: 'web',
              queued_events: 1200,
              dead_lettered: 0,
              max_events: 1_000_000,
              shared: {
                length: 3,
                queued_events: 1500,
                pending: 1,
                dead_lettered: 0,
                consumers: [{ name: 'worker-1f3a', pending: 1, idle_ms: 40 }],
              },
              sync: {
                rows_behind: 0,
                ms_behind: 0,
                synced_rows: 48_210,
                synced_at: '2026-11-01T12:00:03.120Z',
              },
            },
          },
          direct: {
            summary: 'no queue',
            value: {
              enabled: false,
              project: 'web',
              sync: {
                rows_behind: 12,
                ms_behind: 250,
                synced_rows: 48_198,
                synced_at: '2026-11-01T12:00:02.870Z',
              },
            },
          },
          lagUnknown: {
            summary: 'PostgreSQL unreachable',
            value: {
              enabled: false,
              project: 'web',
              sync: { error: 'lag unknown: the database could not be read' },
            },
          },
        },
      }),
    ),
    ...problemResponses('/events/queue/status', [...SECURED_STATUSES, 404, 422, 500]),
  },
}
