// The meaning of a stats filter (segment=), written plainly as the oracle the
// endpoints are compared with. Conventions, each one a reading of the issue
// and the OpenAPI description:
// - A property value compares as the JSON type it has in the event: a string
//   as text (code point order), a number numerically when the filter's value
//   is a JSON number, true/false/null only with that literal; objects and
//   arrays equal nothing and have no order.
// - ne is "not eq": an event without the property matches.
// - exists: the key is there, even when its value is null.
import { compareCodePoints, type ReferenceEvent } from './reference.ts'

export type Op = 'eq' | 'ne' | 'in' | 'gt' | 'gte' | 'lt' | 'lte' | 'exists'
export interface Filter {
  /** 'event_type', 'user_id' or the keys of a property path */
  field: 'event_type' | 'user_id' | string[]
  op: Op
  values: string[]
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/

export function renderFilter(f: Filter): string {
  const field = Array.isArray(f.field) ? `properties.${f.field.join('.')}` : f.field
  return f.op === 'exists' ? `${field}:exists` : `${field}:${f.op}:${f.values.join(',')}`
}

export function matchesAll(filters: readonly Filter[]): (e: ReferenceEvent) => boolean {
  return (e) => filters.every((f) => matches(e, f))
}

function matches(e: ReferenceEvent, f: Filter): boolean {
  if (!Array.isArray(f.field)) {
    const text = f.field === 'event_type' ? e.event_type : e.user_id
    return compareText(text, f.op, f.values)
  }
  let value: unknown = e.properties
  for (const key of f.field) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || !Object.hasOwn(value, key)) return f.op === 'ne'
    value = (value as Record<string, unknown>)[key]
  }
  switch (f.op) {
    case 'exists': return true
    case 'eq': return equals(value, f.values[0]!)
    case 'in': return f.values.some((v) => equals(value, v))
    case 'ne': return !equals(value, f.values[0]!)
    default: return ordered(value, f.op, f.values[0]!)
  }
}

function compareText(text: string, op: Op, values: string[]): boolean {
  switch (op) {
    case 'eq': return text === values[0]
    case 'ne': return text !== values[0]
    case 'in': return values.includes(text)
    case 'exists': return true
    default: return holds(compareCodePoints(text, values[0]!), op)
  }
}

function equals(value: unknown, filter: string): boolean {
  if (typeof value === 'string') return value === filter
  if (typeof value === 'number') return JSON_NUMBER.test(filter) && value === Number(filter)
  if (typeof value === 'boolean') return String(value) === filter
  if (value === null) return filter === 'null'
  return false
}

function ordered(value: unknown, op: Op, filter: string): boolean {
  if (typeof value === 'string') return holds(compareCodePoints(value, filter), op)
  if (typeof value === 'number' && JSON_NUMBER.test(filter)) return holds(Math.sign(value - Number(filter)), op)
  return false
}

function holds(sign: number, op: Op): boolean {
  return op === 'gt' ? sign > 0 : op === 'gte' ? sign >= 0 : op === 'lt' ? sign < 0 : sign <= 0
}
