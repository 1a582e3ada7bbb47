import type { FieldError } from '../errors.ts'

/**
 * A filter on the events a stats query counts, parsed from
 * `field[:op]:value`, e.g. `event_type:purchase`, `properties.plan:in:pro,team`,
 * `properties.amount:gt:100`, `properties.coupon:exists`, `user_id:ne:bot-1`,
 * `user.plan:pro`.
 */
export interface Segment {
  /** the text as given, for error messages */
  text: string
  field: SegmentField
  op: SegmentOp
  /** one value for most operators, one or more for `in`, none for `exists` */
  values: string[]
}

export type SegmentField =
  | { kind: 'event_type' }
  | { kind: 'user_id' }
  | { kind: 'property'; path: string[] }
  /** a current trait of the user's profile (identify's traits, PostHog's $set) */
  | { kind: 'trait'; key: string }

export const SEGMENT_OPS = ['eq', 'ne', 'in', 'gt', 'gte', 'lt', 'lte', 'exists'] as const
export type SegmentOp = (typeof SEGMENT_OPS)[number]

export const MAX_SEGMENTS = 10
const MAX_IN_VALUES = 100
const MAX_VALUE_LENGTH = 1024
const MAX_PATH_DEPTH = 8

// Property keys are held to a strict pattern: they become JSON paths (bound,
// never pasted into SQL), and one spelling per path keeps "properties.a.b"
// from meaning two things. Keys as SDKs write them pass too: PostHog's leading
// "$" ($current_url, $browser) and its "/" ($feature/new-checkout). A key is
// never "$" alone, nor starts with "/". The replica numbers the same keys
// (analytics/property-paths.ts imports this one), so a filter on one reads
// its typed rows.
export const PROPERTY_KEY = /^(?=.{1,64}$)\$?[A-Za-z0-9_-][A-Za-z0-9_/-]*$/
const WITH_OP = /^(eq|ne|in|gt|gte|lt|lte):([\s\S]*)$/

/** Reads every `name` parameter (repeated or single); each bad filter becomes one error naming it. */
export function parseSegments(name: string, raw: unknown, errors: FieldError[]): Segment[] {
  const texts = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  if (texts.length > MAX_SEGMENTS) {
    errors.push({ field: name, message: `at most ${MAX_SEGMENTS} filters` })
    return []
  }
  const segments: Segment[] = []
  for (const text of texts) {
    const parsed = typeof text === 'string' ? parseSegment(text) : 'must be text'
    if (typeof parsed === 'string')
      errors.push({ field: name, message: `${JSON.stringify(text)}: ${parsed}` })
    else segments.push(parsed)
  }
  return segments
}

/** One filter, or why it is malformed. */
export function parseSegment(text: string): Segment | string {
  const colon = text.indexOf(':')
  if (colon < 0)
    return 'expected field:value or field:op:value (op one of eq, ne, in, gt, gte, lt, lte, exists)'
  const field = parseField(text.slice(0, colon))
  if (typeof field === 'string') return field
  const rest = text.slice(colon + 1)
  if (rest === 'exists') {
    if (field.kind !== 'property' && field.kind !== 'trait')
      return 'exists applies to properties only: every event has an event_type and a user_id'
    return { text, field, op: 'exists', values: [] }
  }
  const m = WITH_OP.exec(rest)
  const op = (m?.[1] ?? 'eq') as SegmentOp
  const value = m ? m[2]! : rest
  const values = op === 'in' ? value.split(',') : [value]
  if (op === 'in' && values.length > MAX_IN_VALUES)
    return `in takes at most ${MAX_IN_VALUES} values`
  if (values.some((v) => v.length > MAX_VALUE_LENGTH))
    return `a value may have at most ${MAX_VALUE_LENGTH} characters`
  return { text, field, op, values }
}

/** `event_type`, `user_id`, `properties.<path>` or `user.<trait>`, or why it is none of them. */
export function parseField(name: string): SegmentField | string {
  if (name === 'event_type' || name === 'user_id') return { kind: name }
  if (name.startsWith('user.')) {
    const key = name.slice('user.'.length)
    if (!PROPERTY_KEY.test(key))
      return 'a user trait is one key of letters, digits, _ and - (1 to 64; it may start with $ and hold /)'
    return { kind: 'trait', key }
  }
  if (!name.startsWith('properties.'))
    return 'the field must be event_type, user_id, properties.<path> or user.<trait>'
  const path = name.slice('properties.'.length).split('.')
  if (path.length > MAX_PATH_DEPTH) return `a property path may have at most ${MAX_PATH_DEPTH} keys`
  if (!path.every((key) => PROPERTY_KEY.test(key)))
    return 'a property path is keys of letters, digits, _ and - (1 to 64 each; a key may start with $ and hold /), separated by dots'
  return { kind: 'property', path }
}

/** The JSON path DuckDB reads a property at, every key quoted: `$."device"."os"`. */
export function jsonPath(path: readonly string[]): string {
  return `$${path.map((key) => `."${key}"`).join('')}`
}
