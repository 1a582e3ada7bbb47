import { BodyError } from './body.ts'
import { occurredAt } from './clock.ts'
import type { Draft, FieldNames } from './intake.ts'
import { eventIdFrom, idText, isRecord, notAnObject, objectOr, refused } from './message-fields.ts'

// Segment's HTTP Tracking API (RudderStack's Node SDK speaks it too):
// /v1/batch, or one message to /v1/<type>.

export const SEGMENT_TYPES = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const
export type SegmentType = (typeof SEGMENT_TYPES)[number]

/** Segment's own limits; past them Segment answers 400 and its clients do not retry. */
export const SEGMENT_LIMITS = {
  messageBytes: 32 * 1024,
  requestBytes: 500 * 1024,
  messages: 2_500,
}

export const SEGMENT_FIELDS: FieldNames = {
  event_id: 'messageId',
  occurred_at: 'timestamp',
  user_id: 'userId',
  event_type: 'event',
  properties: 'properties',
}

export interface SegmentRequest {
  messages: unknown[]
  /** the batch's sentAt; a message's own wins */
  sentAt: unknown
  /** the batch's context, merged under each message's own */
  context: Record<string, unknown> | undefined
}

/** The messages a body to /v1/batch or /v1/<type> holds, or a 400 saying what a body must be. */
export function segmentRequest(body: unknown, path: SegmentType | 'batch'): SegmentRequest {
  if (path !== 'batch') {
    if (!isRecord(body)) throw noMessages(`a /v1/${path} body is one message, a JSON object`)
    return { messages: [body], sentAt: undefined, context: undefined }
  }
  if (Array.isArray(body)) return { messages: body, sentAt: undefined, context: undefined }
  if (!isRecord(body) || !Array.isArray(body.batch))
    throw noMessages('a /v1/batch body is {"batch": [messages]}')
  return {
    messages: body.batch,
    sentAt: body.sentAt,
    context: isRecord(body.context) ? body.context : undefined,
  }
}

const noMessages = (detail: string) => new BodyError(400, 'NO_MESSAGES', detail)

/** The write key in the body (@segment/analytics-node 2.x sends it nowhere else). */
export function segmentBodyKey(body: unknown): string | undefined {
  const key = isRecord(body) ? body.writeKey : undefined
  if (typeof key === 'string' && key.length > 0) return key
  const first = isRecord(body) && Array.isArray(body.batch) ? body.batch[0] : undefined
  const inMessage = isRecord(first) ? first.writeKey : undefined
  return typeof inMessage === 'string' && inMessage.length > 0 ? inMessage : undefined
}

const TYPE_NAMES = new Set<string>(SEGMENT_TYPES)

/**
 * One message as the shared rules will judge it. track → its event; page →
 * page_view, screen → screen_view, with name and category among the
 * properties; context under properties.context. identify, group and alias
 * are identity calls, not events.
 */
export function segmentDraft(
  message: unknown,
  request: SegmentRequest,
  path: SegmentType | 'batch',
  project: number,
  receivedMs: number,
): Draft {
  if (!isRecord(message)) return notAnObject(project, message)
  const { id, error } = eventIdFrom(project, message, 'messageId')
  if (error) return { id, rejected: { reason: 'invalid_event_id', errors: [error] } }
  const type = path === 'batch' ? message.type : path
  if (typeof type !== 'string' || !TYPE_NAMES.has(type))
    return refused(id, 'unknown_type', 'type', `must be one of ${SEGMENT_TYPES.join(', ')}`)

  const userId = idText(message.userId)
  const anonymousId = idText(message.anonymousId)
  if (userId === false) return refused(id, 'invalid_user_id', 'userId', 'must be a string')
  if (anonymousId === false)
    return refused(id, 'invalid_user_id', 'anonymousId', 'must be a string')
  const occurred = occurredAt(
    message.timestamp ?? message.originalTimestamp,
    message.sentAt ?? request.sentAt,
    receivedMs,
  )

  if (type === 'alias') {
    const previousId = idText(message.previousId)
    if (!userId) return refused(id, 'no_user', 'userId', 'an alias needs userId')
    if (!previousId)
      return refused(id, 'invalid_previous_id', 'previousId', 'an alias needs previousId')
    return {
      id,
      occurred,
      identity: {
        kind: 'alias',
        user_id: userId,
        previous_id: previousId,
        traits: {},
        traits_once: {},
      },
    }
  }
  const user = userId ?? anonymousId
  if (user === undefined)
    return refused(id, 'no_user', 'userId', 'userId or anonymousId is required')
  const context = { ...request.context, ...(isRecord(message.context) ? message.context : {}) }

  if (type === 'identify' || type === 'group') {
    const traits = objectOr(message.traits, isRecord(context.traits) ? context.traits : {})
    if (!traits) return refused(id, 'invalid_traits', 'traits', 'must be an object')
    if (type === 'identify') {
      const anonymous = userId !== undefined && anonymousId !== userId ? anonymousId : undefined
      return {
        id,
        occurred,
        identity: {
          kind: 'identify',
          user_id: user,
          ...(anonymous !== undefined ? { anonymous_id: anonymous } : {}),
          traits,
          traits_once: {},
        },
      }
    }
    const groupId = idText(message.groupId)
    if (!groupId) return refused(id, 'invalid_group_id', 'groupId', 'a group call needs groupId')
    return {
      id,
      occurred,
      identity: { kind: 'group', user_id: user, group_id: groupId, traits, traits_once: {} },
    }
  }

  const given = objectOr(message.properties)
  if (!given) return refused(id, 'invalid_properties', 'properties', 'must be an object')
  const properties: Record<string, unknown> = { ...given }
  let eventType: unknown = message.event
  if (type === 'page' || type === 'screen') {
    eventType = `${type}_view`
    if (message.name !== undefined && message.name !== null) properties.name = message.name
    if (message.category !== undefined && message.category !== null)
      properties.category = message.category
  } else if (typeof eventType !== 'string' || eventType.length === 0) {
    return refused(id, 'invalid_event_type', 'event', 'a track call needs its event name')
  }
  if (Object.keys(context).length > 0) properties.context = context
  return { id, occurred, event: { user_id: user, event_type: eventType, properties } }
}
