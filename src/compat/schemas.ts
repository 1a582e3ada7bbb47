import Type from 'typebox'
import {
  jsonResponse,
  problemResponses,
  rateLimited,
  SECURED,
  SECURED_STATUSES,
} from '../http/problem-schema.ts'
import { ProjectParam } from '../projects/project-param.ts'
import { KEEP, KEEP_DAYS } from './warnings-store.ts'

// What the SDK routes document. Their bodies are the SDKs' own formats,
// decoded by src/compat/body.ts and judged message by message, so the schemas
// here describe them for readers; they validate nothing.

const counts = {
  received: Type.Integer({ description: 'messages in the request' }),
  events: Type.Integer({
    description: 'messages stored (or queued) as events, duplicates included',
  }),
  duplicates: Type.Integer({
    description: 'of those, ids already stored or repeated in the request',
  }),
  identities: Type.Integer({ description: 'identify, alias, group and $set calls recorded' }),
  rejected: Type.Integer({
    description: 'messages refused one by one, each kept as a warning (GET /events/warnings)',
  }),
  suppressed: Type.Optional(
    Type.Integer({
      description:
        'messages refused because their user was deleted: events, and identity calls naming a deleted id (present only when some were)',
    }),
  ),
  received_at: Type.String({
    format: 'date-time',
    description: 'the time the clock correction took as "received"',
  }),
}

export const SegmentResponse = Type.Object(
  { success: Type.Literal(true), ...counts },
  { additionalProperties: false },
)
export const PostHogResponse = Type.Object(
  { status: Type.Literal(1), ...counts },
  { additionalProperties: false },
)

const example = {
  received: 3,
  events: 2,
  duplicates: 0,
  identities: 1,
  rejected: 0,
  received_at: '2026-11-01T12:00:00.250Z',
}

const Message = Type.Object({}, { additionalProperties: true })
const SegmentBody = Type.Union([
  Type.Object(
    {
      batch: Type.Array(Message),
      sentAt: Type.Optional(Type.String()),
      writeKey: Type.Optional(Type.String()),
      context: Type.Optional(Message),
    },
    { additionalProperties: true },
  ),
  Message,
])
const PostHogBody = Type.Union([
  Type.Object(
    {
      api_key: Type.Optional(Type.String()),
      batch: Type.Array(Message),
      sent_at: Type.Optional(Type.String()),
    },
    { additionalProperties: true },
  ),
  Type.Array(Message),
  Message,
])

const segmentExample = {
  batch: [
    {
      type: 'track',
      event: 'signup',
      userId: 'user-42',
      messageId: 'node-next-1761998400000-0b9f5c4e-6a1d-4f7e-9c2b-8e3d7a6f1c05',
      timestamp: '2026-11-01T12:00:00.000Z',
      properties: { plan: 'pro' },
      context: { library: { name: '@segment/analytics-node', version: '3.1.0' } },
    },
    { type: 'identify', userId: 'user-42', anonymousId: 'anon-7', traits: { email: 'a@x.test' } },
  ],
  sentAt: '2026-11-01T12:00:01.000Z',
}
const rudderstackExample = {
  batch: [
    {
      type: 'track',
      event: 'signup',
      userId: 'user-42',
      messageId: '0b9f5c4e-6a1d-4f7e-9c2b-8e3d7a6f1c05',
      originalTimestamp: '2026-11-01T12:00:00.000Z',
      sentAt: '2026-11-01T12:00:01.000Z',
      channel: 'server',
      context: { library: { name: 'analytics-node', version: '3.0.13' } },
    },
  ],
  sentAt: '2026-11-01T12:00:01.000Z',
}
const posthogExample = {
  api_key: 'ea_…',
  batch: [
    {
      event: '$pageview',
      distinct_id: 'user-42',
      uuid: '0192f5a4-1c2b-7d3e-8f40-5a6b7c8d9e0f',
      timestamp: '2026-11-01T12:00:00.000Z',
      properties: { $current_url: 'https://shop.test/pricing', $browser: 'Firefox' },
    },
  ],
  sent_at: '2026-11-01T12:00:01.000Z',
}

const SdkQuery = Type.Object(
  {
    project: ProjectParam,
    compression: Type.Optional(
      Type.String({
        description: 'PostHog: gzip-js or lz64 (the body is judged by its content anyway)',
      }),
    ),
    _: Type.Optional(
      Type.String({ description: "PostHog's browser client: its clock when it sent (epoch ms)" }),
    ),
  },
  { additionalProperties: true },
)

const AUTH_NOTE =
  'The key may also be sent the way the SDK sends it: HTTP Basic with the key as username (Segment, RudderStack), ' +
  '`writeKey` in the body (Segment), `api_key`, `token` or `$token` in the body or its first message (PostHog).'

export function segmentRouteSchema(path: string, type: string) {
  return {
    tags: ['events'],
    operationId: `segment${type[0]!.toUpperCase()}${type.slice(1)}${path.endsWith('/') ? 'Slash' : ''}`,
    summary: `Segment / RudderStack ${type === 'batch' ? 'batch' : `${type} call`}`,
    description:
      "Segment's HTTP Tracking API. Bodies are JSON, optionally gzip (detected by content), at most 32 KB per message, " +
      `500 KB per request and 2,500 messages (past them 400). ${AUTH_NOTE} Invalid messages are refused one by one ` +
      'and kept as warnings; the rest is stored. 200 once every message is durable (queued or stored).',
    security: SECURED,
    querystring: SdkQuery,
    body: {
      ...SegmentBody,
      // A batch as @segment/analytics-node sends it and as RudderStack's does; a call alone, or with its writeKey.
      examples:
        type === 'batch'
          ? [segmentExample, rudderstackExample]
          : [segmentExample.batch[0], { ...segmentExample.batch[0], writeKey: 'ea_…' }],
    },
    response: {
      200: rateLimited(
        jsonResponse('Accepted', SegmentResponse, { example: { success: true, ...example } }),
      ),
      ...problemResponses(path, [400, ...SECURED_STATUSES, 404, 415, 422, 500, 503], {
        400: {
          detail:
            "message 3 is 40213 bytes as JSON; a message may be at most 32768 (Segment's limit)",
        },
      }),
    },
  }
}

export function posthogRouteSchema(path: string, name: string) {
  return {
    tags: ['events'],
    operationId: `posthog${name}${path.endsWith('/') ? 'Slash' : ''}`,
    summary: `PostHog capture (${path})`,
    description:
      'PostHog\'s capture API: a message, {"batch": [...]} or an array; JSON, gzip (by content, or ?compression=gzip-js), ' +
      `lz64, or a form with data= (base64 or JSON). ${AUTH_NOTE} Past MAX_BODY_BYTES decoded or 2,500 messages: 413, ` +
      'on which posthog-node halves its batch. Invalid messages are refused one by one and kept as warnings.',
    security: SECURED,
    querystring: SdkQuery,
    // posthog-node's batch, and posthog-js's array with the key in each message's properties.
    body: {
      ...PostHogBody,
      examples: [
        posthogExample,
        posthogExample.batch.map((m) => ({ ...m, properties: { ...m.properties, token: 'ea_…' } })),
      ],
    },
    response: {
      200: rateLimited(
        jsonResponse('Accepted', PostHogResponse, { example: { status: 1, ...example } }),
      ),
      ...problemResponses(path, [400, ...SECURED_STATUSES, 404, 413, 415, 422, 500, 503]),
    },
  }
}

const StoredWarning = Type.Object(
  {
    id: Type.Integer(),
    received_at: Type.String({ format: 'date-time' }),
    source: Type.Union([Type.Literal('segment'), Type.Literal('posthog'), Type.Literal('web')]),
    request_id: Type.String({ description: "the request's X-Request-Id" }),
    index: Type.Integer({ description: "the message's position in its request" }),
    message_id: Type.String({ format: 'uuid', description: 'the event id the message mapped to' }),
    reason: Type.String({ description: 'as in ea_compat_messages_rejected_total{reason}' }),
    errors: Type.Array(
      Type.Object(
        { field: Type.String(), message: Type.String() },
        { additionalProperties: false },
      ),
    ),
    message: Type.Unknown({
      description: 'the message as sent (null when too large or too deep to keep)',
    }),
    message_start: Type.Optional(
      Type.String({ description: 'the first 4 KiB of a message over 32 KiB, as JSON text' }),
    ),
  },
  { additionalProperties: false },
)

export const WarningsResponse = Type.Object(
  { project: Type.String(), warnings: Type.Array(StoredWarning) },
  { additionalProperties: false },
)

export const WarningsQuery = Type.Object(
  {
    project: ProjectParam,
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: KEEP, default: 100 })),
  },
  { additionalProperties: false },
)

export const warningsRouteSchema = {
  tags: ['events'],
  operationId: 'listIngestionWarnings',
  summary: 'SDK messages refused one by one',
  description: `Messages of SDK requests (Segment, RudderStack, PostHog) that were refused while the rest of their request was kept, newest first, with the reason. The last ${KEEP} per project, for ${KEEP_DAYS} days.`,
  security: SECURED,
  querystring: WarningsQuery,
  response: {
    200: rateLimited(
      jsonResponse('Warnings', WarningsResponse, {
        example: {
          project: 'default',
          warnings: [
            {
              id: 7,
              received_at: '2026-11-01T12:00:00.250Z',
              source: 'segment',
              request_id: '3f1c9a52-8d7e-4b0a-9c51-2d6f0e8b7a14',
              index: 1,
              message_id: '5d1f7a0e-9b2c-5e4f-8a6b-1c2d3e4f5a6b',
              reason: 'no_user',
              errors: [{ field: 'userId', message: 'userId or anonymousId is required' }],
              message: { type: 'track', event: 'signup' },
            },
          ],
        },
      }),
    ),
    ...problemResponses('/events/warnings', [...SECURED_STATUSES, 404, 422, 500]),
  },
}
