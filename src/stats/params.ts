import { ValidationError, type FieldError } from '../errors.ts'

const DAY_MS = 86_400_000
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/

/** A UTC calendar day as days since 1970-01-01, or an error naming the parameter. */
export function parseDay(name: string, value: unknown, errors: FieldError[]): number | undefined {
  if (value === undefined || value === '') {
    errors.push({ field: name, message: 'is required (YYYY-MM-DD)' })
    return undefined
  }
  const m = typeof value === 'string' ? DATE.exec(value) : null
  const time = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN
  // Date.UTC rolls 2026-02-30 over to March; a real date survives the round trip.
  if (!m || Number.isNaN(time) || formatDay(time / DAY_MS) !== value) {
    errors.push({ field: name, message: 'must be a calendar date as YYYY-MM-DD' })
    return undefined
  }
  return time / DAY_MS
}

export function formatDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10)
}

export function parseInteger(name: string, value: unknown, min: number, max: number, fallback: number, errors: FieldError[]): number {
  if (value === undefined || value === '') return fallback
  const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : NaN
  if (!Number.isInteger(n) || n < min || n > max) {
    errors.push({ field: name, message: `must be an integer from ${min} to ${max}` })
    return fallback
  }
  return n
}

export function rejectUnknown(query: Record<string, unknown>, allowed: string[], errors: FieldError[]): void {
  for (const key of Object.keys(query)) {
    if (!allowed.includes(key)) errors.push({ field: key, message: 'unknown parameter' })
  }
}

export interface DayRange {
  from: number
  to: number
}

/** `from` and `to`, inclusive, from ≤ to, at most maxDays days. */
export function parseRange(query: Record<string, unknown>, maxDays: number, errors: FieldError[]): DayRange {
  const from = parseDay('from', query.from, errors)
  const to = parseDay('to', query.to, errors)
  if (from !== undefined && to !== undefined) {
    if (from > to) errors.push({ field: 'from', message: 'must not be after to' })
    else if (to - from + 1 > maxDays) errors.push({ field: 'to', message: `the range may span at most ${maxDays} days` })
  }
  return { from: from ?? 0, to: to ?? 0 }
}

export function throwIfAny(errors: FieldError[]): void {
  if (errors.length > 0) throw new ValidationError(`${errors.length} invalid parameter(s)`, errors)
}
