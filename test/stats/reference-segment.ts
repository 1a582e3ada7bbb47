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
    if (
      value === null ||
      typeof value !== 'object' ||
      Array.isArray(value) ||
      !Object.hasOwn(value, key)
    )
      return f.op === 'ne'
    value = (value as Record<string, unknown>)[key]
  }
  switch (f.op) {
    case 'exists':
      return true
    case 'eq':
      return equals(value, f.values[0]!)
    case 'in':
      return f.values.some((v) => equals(value, v))
    case 'ne':
      return !equals(value, f.values[0]!)
    default:
      return ordered(value, f.op, f.values[0]!)
  }
}

function compareText(text: string, op: Op, values: string[]): boolean {
  switch (op) {
    case 'eq':
      return text === values[0]
    case 'ne':
      return text !== values[0]
    case 'in':
      return values.includes(text)
    case 'exists':
      return true
    default:
      return holds(compareCodePoints(text, values[0]!), op)
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
  if (typeof value === 'number' && JSON_NUMBER.test(filter))
    return holds(Math.sign(value - Number(filter)), op)
  return false
}

function holds(sign: number, op: Op): boolean {
  return op === 'gt' ? sign > 0 : op === 'gte' ? sign >= 0 : op === 'lt' ? sign < 0 : sign <= 0
}

export interface ReferenceBreakdown {
  by: string
  values: Array<{ value: unknown; count: number; unique_users: number }>
  other: { values: number; count: number; unique_users: number }
  not_set: { count: number }
}

/**
 * GET /stats/breakdown over already de-duplicated events: the kept events of
 * [from, to] grouped by the value of `by`, a value being its JSON type (as
 * DuckDB names it) and its text, so 5 and "5" are two values. Ties: count
 * desc, unique users desc, type, text (code points).
 */
export function referenceBreakdown(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  by: Filter['field'],
  limit: number,
  keep: (e: ReferenceEvent) => boolean,
): ReferenceBreakdown {
  const groups = new Map<
    string,
    { type: string; text: string; value: unknown; count: number; users: Set<string> }
  >()
  let notSet = 0
  for (const e of events) {
    const day = new Date(e.occurred_at).toISOString().slice(0, 10)
    if (day < from || day > to || !keep(e)) continue
    const value = Array.isArray(by)
      ? valueAt(e, by)
      : by === 'event_type'
        ? e.event_type
        : e.user_id
    if (value === undefined) {
      notSet += 1
      continue
    }
    const type = jsonType(value)
    const text = typeof value === 'string' ? value : value === null ? '' : JSON.stringify(value)
    const key = `${type}\u0000${text}`
    let g = groups.get(key)
    // (re-parsed: fast-check's records have no prototype, the API's JSON does)
    if (!g) {
      g = {
        type,
        text,
        value: value === null ? null : JSON.parse(JSON.stringify(value)),
        count: 0,
        users: new Set(),
      }
      groups.set(key, g)
    }
    g.count += 1
    g.users.add(e.user_id)
  }
  const sorted = [...groups.values()].sort(
    (a, b) =>
      b.count - a.count ||
      b.users.size - a.users.size ||
      compareCodePoints(a.type, b.type) ||
      compareCodePoints(a.text, b.text),
  )
  const rest = sorted.slice(limit)
  const restUsers = new Set(rest.flatMap((g) => [...g.users]))
  return {
    by: Array.isArray(by) ? `properties.${by.join('.')}` : by,
    values: sorted
      .slice(0, limit)
      .map((g) => ({ value: g.value, count: g.count, unique_users: g.users.size })),
    other: {
      values: rest.length,
      count: rest.reduce((n, g) => n + g.count, 0),
      unique_users: restUsers.size,
    },
    not_set: { count: notSet },
  }
}

export function valueAt(e: ReferenceEvent, path: string[]): unknown {
  let value: unknown = e.properties
  for (const key of path) {
    if (
      value === null ||
      typeof value !== 'object' ||
      Array.isArray(value) ||
      !Object.hasOwn(value, key)
    )
      return undefined
    value = (value as Record<string, unknown>)[key]
  }
  return value
}

/** The JSON type as DuckDB's json_type names it. */
export function jsonType(value: unknown): string {
  if (value === null) return 'NULL'
  if (Array.isArray(value)) return 'ARRAY'
  switch (typeof value) {
    case 'string':
      return 'VARCHAR'
    case 'boolean':
      return 'BOOLEAN'
    case 'number':
      return !Number.isInteger(value) ? 'DOUBLE' : value < 0 ? 'BIGINT' : 'UBIGINT'
    default:
      return 'OBJECT'
  }
}
