import { createHash } from 'node:crypto'

// An SDK message's id becomes the event's id, so a retried message is still
// one event. Not every id is a UUID (Segment's own Node client sends
// "node-next-<ms>-<uuid>"), and hand-written calls may send none: both are
// mapped to a UUIDv5, deterministic, in namespaces of this service's own.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** names are `<project id>:<the message's id>` */
export const MESSAGE_ID_NAMESPACE = '6f0d3c1e-6b1f-4f8a-9d55-2a7c4e9b1d20'
/** names are `<project id>:<SHA-256 of the message's JSON>` */
export const CONTENT_NAMESPACE = 'b7e2a9c4-3d5f-4e1a-8c6b-0f9d2e4a7b31'

/** RFC 9562 version 5: SHA-1 of namespace and name, with the version and variant bits set. */
export function uuidV5(namespace: string, name: string): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest()
  hash[6] = (hash[6]! & 0x0f) | 0x50
  hash[8] = (hash[8]! & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

/** The event id of a message id: the id itself (lower-case) when it is a UUID, otherwise a UUIDv5 of it in the project. */
export function eventIdOf(project: number, id: string): string {
  return UUID.test(id) ? id.toLowerCase() : uuidV5(MESSAGE_ID_NAMESPACE, `${project}:${id}`)
}

// Members that differ between two sends of the same message (the send time,
// PostHog's offset from it) or that are the key rather than the message.
const NOT_CONTENT = new Set([
  'sentAt',
  'sent_at',
  'offset',
  'writeKey',
  'api_key',
  'token',
  '$token',
])

/**
 * The event id of a message without an id: a UUIDv5 of the SHA-256 of its JSON
 * as sent, less the members above. A resend of the same message is one event;
 * so are two identical messages without ids, which cannot be told apart.
 * The message must be known to nest shallowly (JSON.stringify recurses).
 */
export function contentEventId(project: number, message: Record<string, unknown>): string {
  // No prototype: a member named __proto__ is kept as a member, not taken as one.
  const kept: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(message)) if (!NOT_CONTENT.has(key)) kept[key] = message[key]
  const digest = createHash('sha256').update(JSON.stringify(kept), 'utf8').digest('hex')
  return uuidV5(CONTENT_NAMESPACE, `${project}:${digest}`)
}
