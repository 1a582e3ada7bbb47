import type { FastifyRequest } from 'fastify'
import type { TObject } from 'typebox'
import { type FieldError, ValidationError } from '../errors.ts'
import { byParameterOrder, LAST_DAY } from '../http/validation-errors.ts'
import { parseSegments, type Segment } from './segment.ts'

// What the querystring schemas cannot say: a range's order and span, and the
// grammar of filters. The routes attach the schema's errors (attachValidation)
// and these checks add theirs, so one 422 names every bad parameter; each one
// skips a parameter the schema has already found at fault.

const DAY_MS = 86_400_000

/** The schema's errors for this request, to which the hand checks add. */
export function schemaErrors(request: FastifyRequest): FieldError[] {
  const err = request.validationError
  if (err === undefined) return []
  if (err instanceof ValidationError) return [...(err.extra.errors ?? [])]
  throw err
}

export const failed = (errors: readonly FieldError[], field: string) =>
  errors.some((e) => e.field === field)

/** Sets the one error of a parameter, replacing the schema's where a hand check knows better. */
export function setError(errors: FieldError[], error: FieldError): void {
  const at = errors.findIndex((e) => e.field === error.field)
  if (at < 0) errors.push(error)
  else errors[at] = error
}

/** A UTC calendar day (YYYY-MM-DD, already checked by the schema) as days since 1970-01-01. */
export function dayNumber(day: string): number {
  return Date.parse(day) / DAY_MS
}

export function formatDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10)
}

export interface DayRange {
  from: number
  to: number
}

/** `from` ≤ `to`, inclusive, at most maxDays days. */
export function checkRange(
  query: { from: string; to: string },
  maxDays: number,
  errors: FieldError[],
): DayRange {
  if (failed(errors, 'from') || failed(errors, 'to')) return { from: 0, to: 0 }
  const from = dayNumber(query.from)
  const to = dayNumber(query.to)
  if (from > to) errors.push({ field: 'from', message: 'must not be after to' })
  else if (to - from + 1 > maxDays)
    errors.push({ field: 'to', message: `the range may span at most ${maxDays} days` })
  return { from, to }
}

const LAST_DAY_NUMBER = Date.parse(LAST_DAY) / DAY_MS

/**
 * Windows 1..n of a cohort starting on `start`, each `periodDays` long, must
 * start by 9999-12-31: the answer names each window's first day.
 */
export function checkWindows(
  start: string,
  windows: number,
  periodDays: number,
  errors: FieldError[],
): void {
  if (failed(errors, 'start_date') || failed(errors, 'windows')) return
  const fit = Math.floor((LAST_DAY_NUMBER - dayNumber(start)) / periodDays)
  if (fit >= windows) return
  const unit = periodDays === 1 ? 'day' : 'week'
  if (fit < 1) {
    errors.push({
      field: 'start_date',
      message: `leaves no room for one ${unit} before ${LAST_DAY}: at most ${formatDay(LAST_DAY_NUMBER - periodDays)}`,
    })
  } else {
    errors.push({
      field: 'windows',
      message: `at most ${fit} ${unit}s fit between start_date and ${LAST_DAY}`,
    })
  }
}

export function checkSegments(
  name: string,
  texts: readonly string[] | undefined,
  errors: FieldError[],
): Segment[] {
  return failed(errors, name) ? [] : parseSegments(name, texts, errors)
}

export function throwIfAny(errors: FieldError[], schema: TObject): void {
  if (errors.length > 0)
    throw new ValidationError(
      `${errors.length} invalid parameter(s)`,
      byParameterOrder(errors, schema),
    )
}
