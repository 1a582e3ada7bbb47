import { BodyError } from './body.ts'
import { occurredAt } from './clock.ts'
import type { Draft, FieldNames, IdentityDraft } from './intake.ts'
import { eventIdFrom, idText, isRecord, notAnObject, objectOr, refused } from './message-fields.ts'

// PostHog's capture API: /batch, /capture, /e, /i/v0/e, /track. A body is a
// message ({"event": ...}), a batch ({"batch": [...]}, posthog-node), or an
// array of messages (posthog-js).

/** Past these PostHog answers 413, on which posthog-node halves its batch and sends again. */
export const POSTHOG_LIMITS = { messages: 2_500 }

export const POSTHOG_FIELDS: FieldNames = {
  event_id: 'uuid',
  occurred_at: 'timestamp',
  user_id: 'distinct_id',
  event_type: 'event',
  properties: 'properties',
}

const KEY_FIELDS = ['api_key', 'token', '$token'] as const

export interface PostHogRequest {
  messages: unknown[]
  /** the batch's sent_at, else the browser client's `?_=` (epoch ms) */
  sentAt: unknown
  /** the key the body names (its own, else its first message's), which every message must name if any */
  key: string | undefined
}

export function posthogRequest(body: unknown, query: Record<string, unknown>): PostHogRequest {
  let messages: unknown[]
  let sentAt: unknown
  if (Array.isArray(body)) messages = body
  else if (isRecord(body) && Array.isArray(body.batch)) {
    messages = body.batch
    sentAt = body.sent_at
  } else if (isRecord(body) && 'event' in body) messages = [body]
  else
    throw new BodyError(
      400,
      'NO_MESSAGES',
      'a capture body is a message {"event": ...}, {"batch": [messages]} or [messages]',
    )
  return { messages, sentAt: sentAt ?? query._, key: posthogBodyKey(body) }
}

/** A key in a message, or in its properties (posthog-js puts `token` there). */
function keyOf(message: unknown): string | undefined {
  if (!isRecord(message)) return undefined
  const places = isRecord(message.properties) ? [message, message.properties] : [message]
  for (const place of places)
    for (const field of KEY_FIELDS) {
      const value = place[field]
      if (typeof value === 'string' && value.length > 0) return value
    }
  return undefined
}

/** The project key in a capture body: api_key, token or $token, in the body or its first message. */
export function posthogBodyKey(body: unknown): string | undefined {
  if (Array.isArray(body)) return keyOf(body[0])
  if (!isRecord(body)) return undefined
  return keyOf(body) ?? (Array.isArray(body.batch) ? keyOf(body.batch[0]) : undefined)
}

/**
 * One message as the shared rules will judge it: distinct_id → user_id, the
 * event name and properties as sent (less the key: a write key is not event
 * data). $identify, $create_alias, $groupidentify and any $set / $set_once
 * are also recorded as identity calls.
 */
export function posthogDraft(
  message: unknown,
  request: PostHogRequest,
  project: number,
  receivedMs: number,
): Draft {
  if (!isRecord(message)) return notAnObject(project, message)
  const { id, error } = eventIdFrom(project, message, 'uuid')
  if (error) return { id, rejected: { reason: 'invalid_event_id', errors: [error] } }
  const own = keyOf(message)
  if (request.key !== undefined && own !== undefined && own !== request.key)
    return refused(id, 'other_key', 'token', 'names another project key than its request')
  const given = objectOr(message.properties)
  if (!given) return refused(id, 'invalid_properties', 'properties', 'must be an object')
  const user = idText(
    message.distinct_id ?? message.$distinct_id ?? given.distinct_id ?? given.$distinct_id,
  )
  if (user === false) return refused(id, 'invalid_user_id', 'distinct_id', 'must be a string')
  if (user === undefined) return refused(id, 'no_user', 'distinct_id', 'is required')
  const event = message.event
  if (typeof event !== 'string' || event.length === 0)
    return refused(id, 'invalid_event_type', 'event', 'is required')

  const properties: Record<string, unknown> = { ...given }
  for (const field of KEY_FIELDS) if (properties[field] === own) delete properties[field]
  // Some clients send $set and $set_once beside the properties instead of in them.
  for (const field of ['$set', '$set_once'] as const)
    if (message[field] !== undefined && properties[field] === undefined)
      properties[field] = message[field]

  const occurred = occurredAt(
    message.timestamp,
    message.sent_at ?? request.sentAt,
    receivedMs,
    message.offset,
  )
  const identity = identityOf(event, user, properties)
  if (identity && 'refused' in identity)
    return refused(id, identity.refused.reason, identity.refused.field, identity.refused.message)
  return {
    id,
    occurred,
    event: { user_id: user, event_type: event, properties },
    ...(identity ? { identity } : {}),
  }
}

const object = (value: unknown) => (isRecord(value) ? value : {})

function identityOf(
  event: string,
  user: string,
  properties: Record<string, unknown>,
): IdentityDraft | { refused: { reason: string; field: string; message: string } } | undefined {
  const traits = object(properties.$set)
  const traits_once = object(properties.$set_once)
  if (event === '$identify') {
    const anonymous = idText(properties.$anon_distinct_id)
    return {
      kind: 'identify',
      user_id: user,
      ...(anonymous && anonymous !== user ? { anonymous_id: anonymous } : {}),
      traits,
      traits_once,
    }
  }
  if (event === '$create_alias') {
    const alias = idText(properties.alias)
    if (!alias)
      return {
        refused: {
          reason: 'invalid_previous_id',
          field: 'properties.alias',
          message: 'is required',
        },
      }
    return { kind: 'alias', user_id: user, previous_id: alias, traits, traits_once }
  }
  if (event === '$groupidentify') {
    const type = idText(properties.$group_type)
    const key = idText(properties.$group_key)
    if (!type || !key)
      return {
        refused: {
          reason: 'invalid_group_id',
          field: 'properties.$group_key',
          message: '$groupidentify needs $group_type and $group_key',
        },
      }
    return {
      kind: 'group',
      user_id: user,
      group_type: type,
      group_id: key,
      traits: object(properties.$group_set),
      traits_once: {},
    }
  }
  if (isRecord(properties.$set) || isRecord(properties.$set_once))
    return { kind: 'set', user_id: user, traits, traits_once }
  return undefined
}
