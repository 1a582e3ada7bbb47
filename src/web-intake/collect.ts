import { BodyError } from '../compat/body.ts'
import { occurredAt } from '../compat/clock.ts'
import type { Draft, FieldNames } from '../compat/intake.ts'
import {
  eventIdFrom,
  idText,
  isRecord,
  notAnObject,
  objectOr,
  refused,
} from '../compat/message-fields.ts'
import { type ClientFacts, referrerHost } from './enrich.ts'

// POST /collect: what the browser script (web/script) sends.
//   {"key": "<public key>", "sent_at": <epoch ms>, "anonymous_id"?: "...", "gpc"?: true,
//    "messages": [{"type": "event", "event_id": "<uuid>", "timestamp": <epoch ms>,
//                  "event_type": "page_view", "properties": {...}, "user_id"?: "..."},
//                 {"type": "identify", "event_id": "<uuid>", "timestamp": <epoch ms>,
//                  "user_id": "...", "traits"?: {...}}]}
// The key is in the body because navigator.sendBeacon cannot set headers.

export const COLLECT_LIMITS = { messages: 100, bytes: 256 * 1024 }

export const COLLECT_FIELDS: FieldNames = {
  event_id: 'event_id',
  occurred_at: 'timestamp',
  user_id: 'user_id',
  event_type: 'event_type',
  properties: 'properties',
}

export const PAGE_VIEW = 'page_view'

export interface CollectRequest {
  key: string | undefined
  sentAt: unknown
  anonymousId: string | undefined
  gpc: boolean
  messages: unknown[]
}

export function collectRequest(body: unknown): CollectRequest {
  if (!isRecord(body) || !Array.isArray(body.messages))
    throw new BodyError(400, 'NO_MESSAGES', 'a collect body is {"key": ..., "messages": [...]}')
  if (body.messages.length === 0)
    throw new BodyError(400, 'NO_MESSAGES', 'messages holds no message')
  if (body.messages.length > COLLECT_LIMITS.messages)
    throw new BodyError(
      400,
      'TOO_MANY_MESSAGES',
      `the request holds ${body.messages.length} messages; a request may hold at most ${COLLECT_LIMITS.messages}`,
    )
  const anonymous = idText(body.anonymous_id)
  return {
    key: collectBodyKey(body),
    sentAt: body.sent_at,
    anonymousId: typeof anonymous === 'string' && anonymous.length <= 256 ? anonymous : undefined,
    gpc: body.gpc === true,
    messages: body.messages,
  }
}

export function collectBodyKey(body: unknown): string | undefined {
  return isRecord(body) && typeof body.key === 'string' && body.key.length > 0
    ? body.key
    : undefined
}

/** Epoch ms as the RFC 3339 text the clock correction takes; anything else is passed on to be refused. */
const asTime = (value: unknown) =>
  typeof value === 'number' && Number.isFinite(value) && Math.abs(value) < 8.64e15
    ? new Date(value).toISOString()
    : value

/**
 * One message as the shared rules will judge it. `visitor` is who the browser
 * is (the hashed or the persistent id); an event of an identified page carries
 * its user_id instead. Page views get `referrer_host`; every event the
 * client's facts (browser, os, device, country), which are the server's to say.
 */
export function collectDraft(
  message: unknown,
  request: CollectRequest,
  project: number,
  visitor: string,
  facts: ClientFacts,
  receivedMs: number,
): Draft {
  if (!isRecord(message)) return notAnObject(project, message)
  const { id, error } = eventIdFrom(project, message, 'event_id')
  if (error) return { id, rejected: { reason: 'invalid_event_id', errors: [error] } }
  const occurred = occurredAt(asTime(message.timestamp), request.sentAt, receivedMs)
  const user = idText(message.user_id)
  if (user === false) return refused(id, 'invalid_user_id', 'user_id', 'must be a string')

  if (message.type === 'identify') {
    if (user === undefined) return refused(id, 'no_user', 'user_id', 'is required')
    const traits = objectOr(message.traits)
    if (!traits) return refused(id, 'invalid_traits', 'traits', 'must be an object')
    return {
      id,
      occurred,
      identity: {
        kind: 'identify',
        user_id: user,
        ...(visitor !== user ? { anonymous_id: visitor } : {}),
        traits,
        traits_once: {},
      },
    }
  }
  if (message.type !== 'event')
    return refused(id, 'unknown_type', 'type', 'must be "event" or "identify"')
  const given = objectOr(message.properties)
  if (!given) return refused(id, 'invalid_properties', 'properties', 'must be an object')
  const properties: Record<string, unknown> = { ...given, ...facts }
  if (message.event_type === PAGE_VIEW) properties.referrer_host = referrerHost(properties.referrer)
  return {
    id,
    occurred,
    event: { user_id: user ?? visitor, event_type: message.event_type, properties },
  }
}
