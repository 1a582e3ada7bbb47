import type { DuckDBValue } from '@duckdb/node-api'
import { NUMBER_TYPES, type PropertySlots } from '../analytics/property-slots.ts'
import { jsonPath, type Segment } from './segment.ts'

/** Bound parameters collected while a query is written: add() returns the placeholder. */
export class SqlParams {
  readonly values: DuckDBValue[] = []

  add(value: DuckDBValue): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

// A JSON number as the filter writes it; anything else never equals a number.
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/

/** How one property reads in SQL: from its slot's typed columns, or parsed from the raw JSON when it has none. */
interface PropertyColumns {
  text: string
  type: string
  number: string
}

export function propertyColumns(path: string[], slots: PropertySlots, params: SqlParams): PropertyColumns {
  const json = jsonPath(path)
  const slot = slots.get(json)
  if (slot !== undefined) return { text: `e.v${slot}`, type: `e.k${slot}`, number: `e.n${slot}` }
  const p = params.add(json)
  return {
    text: `json_extract_string(e.properties, ${p})`,
    type: `json_type(e.properties, ${p})`,
    number: `TRY_CAST(json_extract_string(e.properties, ${p}) AS DOUBLE)`,
  }
}

/**
 * The events a list of filters keeps, as one SQL condition over `events e`
 * (all filters must hold; TRUE when there are none). Values are always bound.
 * A property value compares as the JSON type it has in the event: a string as
 * text, a number as a number (when the filter's value is a JSON number),
 * true/false/null only with that literal.
 */
export function segmentsWhere(segments: readonly Segment[], slots: PropertySlots, params: SqlParams): string {
  if (segments.length === 0) return 'TRUE'
  return segments.map((s) => `(${segmentWhere(s, slots, params)})`).join(' AND ')
}

/**
 * Filters on event_type alone can be answered from the per-(day, type)
 * rollups instead of the events: those tables have an event_type column too,
 * so the same condition (over alias `e`) applies to them.
 */
export function onlyEventType(segments: readonly Segment[]): boolean {
  return segments.length > 0 && segments.every((s) => s.field.kind === 'event_type')
}

function segmentWhere(segment: Segment, slots: PropertySlots, params: SqlParams): string {
  const { field, op, values } = segment
  if (field.kind === 'property') {
    const col = propertyColumns(field.path, slots, params)
    if (op === 'exists') return `${col.type} IS NOT NULL`
    if (op === 'eq' || op === 'in') return anyOf(values.map((v) => propertyEquals(col, v, params)))
    // Events without the property count as "not equal".
    if (op === 'ne') return `NOT coalesce(${propertyEquals(col, values[0]!, params)}, FALSE)`
    return propertyOrder(col, ORDER[op], values[0]!, params)
  }
  const column = field.kind === 'event_type' ? 'e.event_type' : 'u.user_id'
  const condition = textCondition(column, op, values, params)
  return field.kind === 'event_type' ? condition : `e.user_key IN (SELECT u.user_key FROM users u WHERE ${condition})`
}

const ORDER = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const

function textCondition(column: string, op: Segment['op'], values: string[], params: SqlParams): string {
  switch (op) {
    case 'eq': return `${column} = ${params.add(values[0]!)}`
    case 'ne': return `${column} <> ${params.add(values[0]!)}`
    case 'in': return `${column} IN (${values.map((v) => params.add(v)).join(', ')})`
    case 'exists': return 'TRUE'
    default: return `${column} ${ORDER[op]} ${params.add(values[0]!)}`
  }
}

function propertyEquals(col: PropertyColumns, value: string, params: SqlParams): string {
  const cases = [`(${col.type} = 'VARCHAR' AND ${col.text} = ${params.add(value)})`]
  if (JSON_NUMBER.test(value)) cases.push(`(${col.type} IN ${NUMBER_TYPES} AND ${col.number} = ${params.add(Number(value))}::DOUBLE)`)
  if (value === 'true' || value === 'false') cases.push(`(${col.type} = 'BOOLEAN' AND ${col.text} = ${params.add(value)})`)
  if (value === 'null') cases.push(`${col.type} = 'NULL'`)
  return anyOf(cases)
}

/** Strings order as text; numbers as numbers when the filter's value is one; nothing else has an order. */
function propertyOrder(col: PropertyColumns, operator: string, value: string, params: SqlParams): string {
  const cases = [`(${col.type} = 'VARCHAR' AND ${col.text} ${operator} ${params.add(value)})`]
  if (JSON_NUMBER.test(value)) cases.push(`(${col.type} IN ${NUMBER_TYPES} AND ${col.number} ${operator} ${params.add(Number(value))}::DOUBLE)`)
  return anyOf(cases)
}

function anyOf(cases: string[]): string {
  return cases.length === 1 ? cases[0]! : `(${cases.join(' OR ')})`
}
