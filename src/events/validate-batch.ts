import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import { type FieldError, ValidationError } from '../errors.ts'
import { EventInput, type NormalizedEvent } from './event-schema.ts'
import { propertiesProblem } from './json-values.ts'
import { parseTimestamp, RFC3339_SHAPE, storable } from './timestamps.ts'

export interface BatchLimits {
  maxBatchSize: number
  maxPropertiesBytes: number
  maxFutureSkewMs: number
}

// A request with thousands of bad events should not answer with thousands of lines.
const MAX_REPORTED_ERRORS = 100

// Our own strict instance: every error at once, no type coercion, and unknown
// fields rejected rather than silently removed (Fastify's defaults do both).
// date-time is only shape-checked here; parseTimestamp checks the calendar.
const ajv = new Ajv({ allErrors: true, coerceTypes: false, removeAdditional: false, strict: false })
// ajv-formats' uuid also accepts a "urn:uuid:" prefix, which PostgreSQL's uuid type refuses.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
ajv.addFormat('uuid', UUID)
ajv.addFormat('date-time', RFC3339_SHAPE)
const validateEvent: ValidateFunction = ajv.compile(EventInput)

/** The compiled schema check, for the test that holds plainlyValid to it. */
export const matchesEventSchema = (raw: unknown): boolean => validateEvent(raw)

const FIELDS = new Set(Object.keys(EventInput.properties))
// The schema's own bounds (a bound it lost would make the check below never pass).
type Bounds = { minLength: number; maxLength: number }
const USER_ID = EventInput.properties.user_id as unknown as Bounds
const EVENT_TYPE = EventInput.properties.event_type as unknown as Bounds

/**
 * A cheap check that only ever passes events the schema passes too (a property
 * test holds it to that), so the common, valid event skips the general schema
 * check (a fifth of a validated import's CPU). Anything it does not pass is
 * judged by the schema as before, with the schema's messages.
 */
export function plainlyValid(raw: unknown): boolean {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return false
  const r = raw as Record<string, unknown>
  for (const key in r) if (!FIELDS.has(key)) return false
  const properties = r.properties
  return (
    typeof r.event_id === 'string' &&
    UUID.test(r.event_id) &&
    typeof r.occurred_at === 'string' &&
    RFC3339_SHAPE.test(r.occurred_at) &&
    lengthSurelyWithin(r.user_id, USER_ID.minLength, USER_ID.maxLength) &&
    lengthSurelyWithin(r.event_type, EVENT_TYPE.minLength, EVENT_TYPE.maxLength) &&
    (!('properties' in r) ||
      (typeof properties === 'object' && properties !== null && !Array.isArray(properties)))
  )
}

/**
 * The schema counts characters (code points); a UTF-16 length within these
 * bounds means the count is too: n code units hold between n/2 and n of them.
 */
function lengthSurelyWithin(value: unknown, min: number, max: number): boolean {
  return typeof value === 'string' && value.length >= 2 * min - 1 && value.length <= max
}

// JSON.stringify writes a lone surrogate as a \udXXX escape (an odd run of
// backslashes before it: an even run is an escaped backslash followed by text).
const LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/
// The same for NUL: a plain substring test would also refuse the six
// characters \u0000 sent as text (written \\u0000).
const NUL_OR_LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})/
// Cheap pre-checks, run for every event: a lone surrogate needs a surrogate
// code unit, and JSON.stringify writes both NUL and a lone surrogate as "\u".
const ANY_SURROGATE = /[\uD800-\uDFFF]/
const hasLoneSurrogate = (text: string) =>
  ANY_SURROGATE.test(text) && LONE_SURROGATE.test(JSON.stringify(text))

/**
 * Checks a whole request body and returns the normalised events, or throws one
 * ValidationError listing every bad field with the index of its event.
 */
export function validateBatch(
  body: unknown,
  limits: BatchLimits,
  now = Date.now(),
  propertiesJson?: string[],
): NormalizedEvent[] {
  const events = extractEvents(body)
  if (events.length === 0) {
    throw new ValidationError('the batch is empty', [
      { field: 'events', message: 'must contain at least 1 event' },
    ])
  }
  if (events.length > limits.maxBatchSize) {
    throw new ValidationError(`a batch holds at most ${limits.maxBatchSize} events`, [
      {
        field: 'events',
        message: `must contain at most ${limits.maxBatchSize} events, got ${events.length}`,
      },
    ])
  }
  const errors: FieldError[] = []
  const normalized: NormalizedEvent[] = []
  for (let index = 0; index < events.length && errors.length < MAX_REPORTED_ERRORS; index++) {
    const event = checkEvent(events[index], index, limits, now, errors, propertiesJson)
    if (event) normalized.push(event)
  }
  if (errors.length > 0) {
    throw new ValidationError(
      `${errors.length >= MAX_REPORTED_ERRORS ? 'at least ' : ''}${errors.length} invalid field(s)`,
      errors.slice(0, MAX_REPORTED_ERRORS),
    )
  }
  return normalized
}

/**
 * One event, held to every rule of a batch's events: the normalised event, or
 * undefined with its errors (each naming `index`) pushed onto `errors`. Its
 * serialised properties go onto `propertiesJson` only when it is valid, so that
 * list stays aligned with the events returned. The SDK intake (src/compat)
 * judges each message it maps with this, so both paths keep the same rules.
 */
export function checkEvent(
  raw: unknown,
  index: number,
  limits: Omit<BatchLimits, 'maxBatchSize'>,
  now: number,
  errors: FieldError[],
  propertiesJson?: string[],
): NormalizedEvent | undefined {
  if (!plainlyValid(raw) && !validateEvent(raw)) {
    for (const e of validateEvent.errors ?? []) errors.push(toFieldError(index, e))
    return undefined
  }
  return normalizeEvent(raw as EventInput, index, limits, now, errors, propertiesJson)
}

/** Why a text id (a user id, say) cannot be stored as it is, or undefined: the rules user_id is held to beyond its length. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000') || hasLoneSurrogate(text))
    return 'must be Unicode text without NUL characters'
  if (text.startsWith('\ufeff')) return 'must not begin with U+FEFF (a byte-order mark)'
  return undefined
}

/** How many events a request body holds, valid or not; undefined when it is not a batch at all. */
export function countEvents(body: unknown): number | undefined {
  if (Array.isArray(body)) return body.length
  const events =
    body !== null && typeof body === 'object' ? (body as { events?: unknown }).events : undefined
  return Array.isArray(events) ? events.length : undefined
}

function extractEvents(body: unknown): unknown[] {
  if (Array.isArray(body)) return body
  if (body !== null && typeof body === 'object') {
    const keys = Object.keys(body)
    const extra = keys.filter((k) => k !== 'events')
    if (extra.length > 0) {
      throw new ValidationError(
        'unknown fields in the body',
        extra.map((k) => ({ field: k, message: 'unknown field' })),
      )
    }
    const events = (body as { events?: unknown }).events
    if (Array.isArray(events)) return events
  }
  throw new ValidationError('the body must be an array of events or {"events": [...]}', [
    { field: 'events', message: 'must be an array of events' },
  ])
}

function normalizeEvent(
  raw: EventInput,
  index: number,
  limits: Omit<BatchLimits, 'maxBatchSize'>,
  now: number,
  errors: FieldError[],
  propertiesJson: string[] | undefined,
): NormalizedEvent | undefined {
  const before = errors.length
  const time = parseTimestamp(raw.occurred_at)
  if (!time) {
    errors.push({ index, field: 'occurred_at', message: 'is not a valid date-time' })
  } else if (!storable(time)) {
    errors.push({
      index,
      field: 'occurred_at',
      message: 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z',
    })
  } else if (time.ms > now + limits.maxFutureSkewMs) {
    errors.push({
      index,
      field: 'occurred_at',
      message: `is more than ${limits.maxFutureSkewMs / 1000} s in the future`,
    })
  }
  // PostgreSQL text and jsonb cannot hold NUL; refusing it here keeps a poison
  // event from ever reaching the queue.
  // Nor can they hold lone UTF-16 surrogates, which are not Unicode text.
  if (raw.user_id.includes('\u0000') || hasLoneSurrogate(raw.user_id))
    errors.push({ index, field: 'user_id', message: 'must be Unicode text without NUL characters' })
  if (raw.event_type.includes('\u0000') || hasLoneSurrogate(raw.event_type))
    errors.push({
      index,
      field: 'event_type',
      message: 'must be Unicode text without NUL characters',
    })
  // The embedded store's client decodes a text value that begins with U+FEFF as
  // if it were a byte-order mark and drops it, so "\ufeffa" would count as "a".
  // Refused in every mode, so both modes keep the same users and types.
  for (const field of ['user_id', 'event_type'] as const) {
    if (raw[field].startsWith('\ufeff'))
      errors.push({ index, field, message: 'must not begin with U+FEFF (a byte-order mark)' })
  }
  const properties = raw.properties ?? {}
  // Checked before serialising: JSON.stringify recurses, and overflows on deep values.
  const problem = propertiesProblem(properties)
  const serialized = problem === undefined ? JSON.stringify(properties) : ''
  if (problem !== undefined) {
    errors.push({ index, field: 'properties', message: problem })
  } else if (Buffer.byteLength(serialized) > limits.maxPropertiesBytes) {
    errors.push({
      index,
      field: 'properties',
      message: `must be at most ${limits.maxPropertiesBytes} bytes as JSON`,
    })
  } else if (serialized.includes('\\u') && NUL_OR_LONE_SURROGATE.test(serialized)) {
    errors.push({
      index,
      field: 'properties',
      message: 'must be Unicode text without NUL characters',
    })
  }
  if (errors.length > before || !time) return undefined
  propertiesJson?.push(serialized)
  return {
    event_id: raw.event_id.toLowerCase(),
    occurred_at: time.utc,
    user_id: raw.user_id,
    event_type: raw.event_type,
    properties,
  }
}

function toFieldError(index: number, e: ErrorObject): FieldError {
  const [, field = ''] = e.instancePath.split('/')
  if (e.keyword === 'additionalProperties') {
    return { index, field: String(e.params.additionalProperty), message: 'unknown field' }
  }
  if (e.keyword === 'required') {
    return { index, field: String(e.params.missingProperty), message: 'is required' }
  }
  if (field === '') return { index, field: 'event', message: e.message ?? 'is invalid' }
  return { index, field, message: e.message ?? 'is invalid' }
}
