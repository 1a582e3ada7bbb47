import type { Segment } from '../stats/segment.ts'

/**
 * The export's filters as PostgreSQL conditions over `events`, values bound.
 * Event-level filters (event_type, properties.<path>) are translated with the
 * meaning /stats gives them (src/stats/segment-sql.ts): a property compares as
 * the JSON type it has, strings as text in code point order (COLLATE "C", as
 * DuckDB orders), numbers numerically when the filter's value is a number,
 * true/false/null only with that literal, and `ne` keeps events without it.
 * Person-level filters (user_id after merges, user.<trait>) are resolved to
 * ids by the replica first (user-ids.ts) and arrive here as a list.
 */
export class PgParams {
  readonly values: unknown[] = []

  add(value: unknown): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/
const ORDER = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const

/** Whether /stats would apply this filter to each event (rather than to its person). */
export const isEventLevel = (s: Segment) =>
  s.field.kind === 'event_type' || s.field.kind === 'property'

export function eventCondition(segment: Segment, params: PgParams): string {
  const { field, op, values } = segment
  if (field.kind === 'event_type') return textCondition('event_type', op, values, params)
  if (field.kind !== 'property') throw new Error(`not an event-level filter: ${segment.text}`)
  const path = params.add(field.path)
  const value = `(properties #> ${path}::text[])`
  const col = {
    type: `jsonb_typeof${value}`,
    text: `(properties #>> ${path}::text[])`,
    // CASE, not AND: PostgreSQL may evaluate a cast before the type test beside it.
    number: `(CASE WHEN jsonb_typeof${value} = 'number' THEN (properties #>> ${path}::text[])::float8 END)`,
  }
  switch (op) {
    case 'exists':
      return `${value} IS NOT NULL`
    case 'eq':
    case 'in':
      return anyOf(values.map((v) => equals(col, v, params)))
    case 'ne':
      return `NOT coalesce(${equals(col, values[0]!, params)}, FALSE)`
    default:
      return ordered(col, ORDER[op], values[0]!, params)
  }
}

type Column = { type: string; text: string; number: string }

function equals(col: Column, value: string, params: PgParams): string {
  const cases = [`(${col.type} = 'string' AND ${col.text} = ${params.add(value)})`]
  if (JSON_NUMBER.test(value)) cases.push(`${col.number} = ${params.add(Number(value))}::float8`)
  if (value === 'true' || value === 'false')
    cases.push(`(${col.type} = 'boolean' AND ${col.text} = ${params.add(value)})`)
  if (value === 'null') cases.push(`${col.type} = 'null'`)
  return anyOf(cases)
}

function ordered(col: Column, operator: string, value: string, params: PgParams): string {
  const cases = [
    `(${col.type} = 'string' AND ${col.text} COLLATE "C" ${operator} ${params.add(value)})`,
  ]
  if (JSON_NUMBER.test(value))
    cases.push(`${col.number} ${operator} ${params.add(Number(value))}::float8`)
  return anyOf(cases)
}

function textCondition(
  column: string,
  op: Segment['op'],
  values: string[],
  params: PgParams,
): string {
  switch (op) {
    case 'eq':
      return `${column} = ${params.add(values[0]!)}`
    case 'ne':
      return `${column} <> ${params.add(values[0]!)}`
    case 'in':
      return `${column} = ANY(${params.add(values)}::text[])`
    case 'exists':
      return 'TRUE'
    default:
      return `${column} COLLATE "C" ${ORDER[op]} ${params.add(values[0]!)}`
  }
}

function anyOf(cases: string[]): string {
  return cases.length === 1 ? cases[0]! : `(${cases.join(' OR ')})`
}
