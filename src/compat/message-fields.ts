import type { FieldError } from '../errors.ts'
import { contentEventId, eventIdOf } from './event-id.ts'
import type { Draft } from './intake.ts'

// Small readers shared by the Segment and PostHog mappings: SDK messages are
// loosely typed (ids as numbers, empty strings for "none"), and each reader
// says what it makes of that in one place.

export const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value)

/**
 * An id as text: a string as it is, a finite number in decimal (clients that
 * take numeric ids send them so); undefined when absent, null or empty; `false`
 * when it is something else (an object, a boolean), which a message is refused for.
 */
export function idText(value: unknown): string | undefined | false {
  if (value === undefined || value === null || value === '') return undefined
  if (typeof value === 'string') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return false
}

/** The event id of `message` from its `field` (messageId, uuid), or from its content when it has none. */
export function eventIdFrom(
  project: number,
  message: Record<string, unknown>,
  field: string,
): { id: string; error?: FieldError } {
  const given = idText(message[field])
  if (given === false) {
    return {
      id: contentEventId(project, message),
      error: { field, message: 'must be a string (or a number)' },
    }
  }
  return { id: given === undefined ? contentEventId(project, message) : eventIdOf(project, given) }
}

/** A refusal with one reason and one field. */
export function refused(id: string, reason: string, field: string, message: string): Draft {
  return { id, rejected: { reason, errors: [{ field, message }] } }
}

/** A message that is not a JSON object: its id from its content, wrapped. */
export function notAnObject(project: number, message: unknown): Draft {
  return refused(
    contentEventId(project, { message }),
    'not_an_object',
    'message',
    'must be a JSON object',
  )
}

/** An object member that must be an object when present: the object, {} when absent, or undefined when it is not one. */
export function objectOr(value: unknown, fallback: Record<string, unknown> = {}) {
  if (value === undefined || value === null) return fallback
  return isRecord(value) ? value : undefined
}
