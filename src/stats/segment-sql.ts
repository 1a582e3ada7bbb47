import type { DuckDBValue } from '@duckdb/node-api'
import { NUMBER_TYPES, type PropertyPaths } from '../analytics/property-paths.ts'
import { jsonPath, type Segment } from './segment.ts'

/** Bound parameters collected while a query is written: add() returns the placeholder. */
export class SqlParams {
  readonly values: DuckDBValue[] = []

  add(value: DuckDBValue): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

/** The day range of a query whose first two parameters are its first and last day (days since 1970-01-01). */
export const DAYS_1_2 = (alias: string) =>
  `${alias}.day BETWEEN DATE '1970-01-01' + $1::INTEGER AND DATE '1970-01-01' + $2::INTEGER`

/**
 * The events a list of filters keeps: the relation to read them from (alias
 * `e`, with seq, day, user_key and event_type) and a condition over it. Values
 * are always bound.
 */
export interface FilteredEvents {
  from: string
  where: string
}

// A JSON number as the filter writes it; anything else never equals a number.
const JSON_NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/

/** A property value in SQL: its JSON type (NULL when absent), its text, and its number. */
export interface PropertyValue {
  type: string
  text: string
  number: string
}

const columnsOf = (alias: string): PropertyValue => ({
  type: `${alias}.type`,
  text: `${alias}.text`,
  number: `${alias}.number`,
})

/** The value read from an event's raw JSON, for a path that has no number (past MAX_PROPERTY_PATHS). */
export function fromJson(path: string, params: SqlParams, alias = 'e'): PropertyValue {
  const p = params.add(path)
  return {
    type: `json_type(${alias}.properties, ${p})`,
    text: `json_extract_string(${alias}.properties, ${p})`,
    number: `TRY_CAST(json_extract_string(${alias}.properties, ${p}) AS DOUBLE)`,
  }
}

/**
 * All filters must hold. A filter on a property reads its rows of
 * event_props; when one such filter keeps only events that have the
 * property, those rows are the relation itself (they carry day, user and
 * type), so the common one-filter query never touches `events`. Other
 * property filters join on seq.
 * A property value compares as the JSON type it has in the event: a string as
 * text, a number as a number (when the filter's value is a JSON number),
 * true/false/null only with that literal. `ne` keeps events without it.
 */
export function filteredEvents(
  segments: readonly Segment[],
  paths: PropertyPaths,
  params: SqlParams,
  /** the query's own day range over an alias, when it has one: narrows the property rows looked up */
  withinDays?: (alias: string) => string,
): FilteredEvents {
  const conditions: string[] = []
  let driver: string | undefined
  const needsJson = segments.some(
    (s) =>
      s.field.kind === 'property' &&
      paths.get(jsonPath(s.field.path)) === undefined &&
      !paths.complete,
  )
  for (const segment of segments) {
    const { field, op, values } = segment
    if (field.kind === 'event_type') {
      conditions.push(textCondition('e.event_type', op, values, params))
      continue
    }
    if (field.kind === 'user_id') {
      conditions.push(userIdCondition(op, values, params))
      continue
    }
    if (field.kind === 'trait') {
      conditions.push(traitCondition(field.key, op, values, params))
      continue
    }
    const path = jsonPath(field.path)
    const id = paths.get(path)
    if (id === undefined) {
      // Every path met so far has a number: this one is in no event.
      if (paths.complete) conditions.push(op === 'ne' ? 'TRUE' : 'FALSE')
      else conditions.push(propertyCondition(fromJson(path, params), op, values, params))
      continue
    }
    if (op !== 'ne' && driver === undefined && !needsJson) {
      driver = 'event_props e'
      conditions.push(
        `e.path_id = ${params.add(id)}`,
        propertyCondition(columnsOf('e'), op, values, params),
      )
      continue
    }
    const rows = `SELECT p.seq FROM event_props p WHERE p.path_id = ${params.add(id)}${withinDays ? ` AND ${withinDays('p')}` : ''}`
    conditions.push(
      op === 'ne'
        ? `e.seq NOT IN (${rows} AND ${propertyCondition(columnsOf('p'), 'eq', values, params)})`
        : `e.seq IN (${rows} AND ${propertyCondition(columnsOf('p'), op, values, params)})`,
    )
  }
  return {
    from: driver ?? 'events e',
    where: conditions.length === 0 ? 'TRUE' : conditions.map((c) => `(${c})`).join(' AND '),
  }
}

/**
 * A single filter on a property with rollups can be answered from its user
 * bitmaps (prop_day_users: day, block and users like day_users, plus the
 * value's type and text). Returns the condition over them (alias `e`), or
 * undefined. `ne` cannot: events without the property are not in them.
 */
function propertyRollupWhere(
  segments: readonly Segment[],
  paths: PropertyPaths,
  params: SqlParams,
): string | undefined {
  if (segments.length !== 1) return undefined
  const { field, op, values } = segments[0]!
  if (field.kind !== 'property' || op === 'ne') return undefined
  const id = paths.get(jsonPath(field.path))
  if (id === undefined || !paths.rolledUp(id)) return undefined
  const value = { type: 'e.type', text: 'e.text', number: 'TRY_CAST(e.text AS DOUBLE)' }
  return `(e.path_id = ${params.add(id)}) AND (${propertyCondition(value, op, values, params)})`
}

/**
 * Filters on event_type alone can be answered from the per-(day, type)
 * rollups instead of the events: those tables have an event_type column too,
 * so the same condition (over alias `e`) applies to them.
 */
function onlyEventType(segments: readonly Segment[]): boolean {
  return segments.length > 0 && segments.every((s) => s.field.kind === 'event_type')
}

const ORDER = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const

/**
 * A user id names the person it belongs to (identity-schema.ts): the events
 * kept are those of persons with an id that matches, whichever id their
 * events were sent with. `ne` keeps the persons with no id equal to it.
 */
function userIdCondition(op: Segment['op'], values: string[], params: SqlParams): string {
  const positive = op === 'ne' ? 'eq' : op
  const byId = textCondition('i.user_id', positive, values, params)
  const byName = textCondition('u.user_id', positive, values, params)
  const persons = `SELECT u.user_key FROM users u
    WHERE ${byName} OR u.user_id IN (SELECT i.person FROM identity_ids i WHERE ${byId})`
  return `e.user_key ${op === 'ne' ? 'NOT IN' : 'IN'} (${persons})`
}

/**
 * `user.<trait>`: the events of persons whose current trait (user_traits)
 * matches, with the property filters' types and operators. `ne` keeps the
 * persons without that value, those without the trait included.
 */
function traitCondition(
  key: string,
  op: Segment['op'],
  values: string[],
  params: SqlParams,
): string {
  const matching = (o: Segment['op']) => `SELECT u.user_key FROM users u
    JOIN user_traits t ON t.person = u.user_id
    WHERE t.trait = ${params.add(key)} AND ${propertyCondition(columnsOf('t'), o, values, params)}`
  return op === 'ne' ? `e.user_key NOT IN (${matching('eq')})` : `e.user_key IN (${matching(op)})`
}

function textCondition(
  column: string,
  op: Segment['op'],
  values: string[],
  params: SqlParams,
): string {
  switch (op) {
    case 'eq':
      return `${column} = ${params.add(values[0]!)}`
    case 'ne':
      return `${column} <> ${params.add(values[0]!)}`
    case 'in':
      return `${column} IN (${values.map((v) => params.add(v)).join(', ')})`
    case 'exists':
      return 'TRUE'
    default:
      return `${column} ${ORDER[op]} ${params.add(values[0]!)}`
  }
}

function propertyCondition(
  col: PropertyValue,
  op: Segment['op'],
  values: string[],
  params: SqlParams,
): string {
  switch (op) {
    case 'exists':
      return `${col.type} IS NOT NULL`
    case 'eq':
    case 'in':
      return anyOf(values.map((v) => propertyEquals(col, v, params)))
    case 'ne':
      return `NOT coalesce(${propertyEquals(col, values[0]!, params)}, FALSE)`
    default:
      return propertyOrder(col, ORDER[op], values[0]!, params)
  }
}

function propertyEquals(col: PropertyValue, value: string, params: SqlParams): string {
  const cases = [`(${col.type} = 'VARCHAR' AND ${col.text} = ${params.add(value)})`]
  if (JSON_NUMBER.test(value))
    cases.push(
      `(${col.type} IN ${NUMBER_TYPES} AND ${col.number} = ${params.add(Number(value))}::DOUBLE)`,
    )
  if (value === 'true' || value === 'false')
    cases.push(`(${col.type} = 'BOOLEAN' AND ${col.text} = ${params.add(value)})`)
  if (value === 'null') cases.push(`${col.type} = 'NULL'`)
  return anyOf(cases)
}

/** Strings order as text; numbers as numbers when the filter's value is one; nothing else has an order. */
function propertyOrder(
  col: PropertyValue,
  operator: string,
  value: string,
  params: SqlParams,
): string {
  const cases = [`(${col.type} = 'VARCHAR' AND ${col.text} ${operator} ${params.add(value)})`]
  if (JSON_NUMBER.test(value))
    cases.push(
      `(${col.type} IN ${NUMBER_TYPES} AND ${col.number} ${operator} ${params.add(Number(value))}::DOUBLE)`,
    )
  return anyOf(cases)
}

function anyOf(cases: string[]): string {
  return cases.length === 1 ? cases[0]! : `(${cases.join(' OR ')})`
}

/**
 * The rollup tables that can answer these filters, and the condition over them
 * (alias `e`); undefined when only events can. Users per event type (top
 * events) exist for event types only, not per property value.
 */
export function rollupFor(
  segments: readonly Segment[],
  paths: PropertyPaths,
  params: SqlParams,
  need: 'users' | 'users by type' = 'users',
): { counts: string; users: string; where: string } | undefined {
  if (onlyEventType(segments))
    return {
      counts: 'type_day_counts',
      users: 'day_type_users',
      where: filteredEvents(segments, paths, params).where,
    }
  const where = need === 'users' ? propertyRollupWhere(segments, paths, params) : undefined
  return where === undefined
    ? undefined
    : { counts: 'prop_day_counts', users: 'prop_day_users', where }
}
