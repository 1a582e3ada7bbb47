// RFC 3339 date-times, parsed by hand because this runs for every event of
// every batch: a regex and integer checks cost a fraction of a generic date
// parser plus a format validator, and UTC input (the common case) is turned
// into its canonical form without building a Date at all.
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

/** A cheap shape check, used as the schema's `date-time` format; parseTimestamp does the rest. */
export const RFC3339_SHAPE = RFC3339

export interface Timestamp {
  /** epoch milliseconds */
  ms: number
  /** UTC, `YYYY-MM-DDTHH:MM:SS.mmm[uuu]Z`: milliseconds always, microseconds when given (PostgreSQL's precision) */
  utc: string
}

// What PostgreSQL's timestamptz can hold and print back in this form: it has no
// year 0, and beyond 9999 toISOString writes a six-digit year it refuses.
export const MIN_MS = -62_135_596_800_000 // 0001-01-01T00:00:00Z
export const MAX_MS = 253_402_300_799_999 // 9999-12-31T23:59:59.999Z

/** Whether a parsed time can be stored as it is. */
export const storable = (t: Timestamp): boolean => t.ms >= MIN_MS && t.ms <= MAX_MS

// Date.UTC reads years 0 to 99 as 1900 to 1999; 400 years later the calendar
// repeats exactly (146,097 days), so shifting there and back keeps the year.
const GREGORIAN_CYCLE_MS = 146_097 * 86_400_000
function utcMs(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  millis: number,
): number {
  return Date.UTC(year + 400, month - 1, day, hour, minute, second, millis) - GREGORIAN_CYCLE_MS
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!
}

export function parseTimestamp(text: string): Timestamp | undefined {
  return canonicalUtc(text) ?? parseTimestampByPattern(text)
}

/** The number the two ASCII digits at i and i + 1 spell, or NaN if either is not a digit. */
function twoDigits(text: string, i: number): number {
  const a = text.charCodeAt(i) - 0x30
  const b = text.charCodeAt(i + 1) - 0x30
  return a >>> 0 < 10 && b >>> 0 < 10 ? a * 10 + b : NaN
}

/**
 * The form JavaScript's toISOString writes and most clients send,
 * YYYY-MM-DDTHH:MM:SS.mmmZ, is its own canonical UTC form: read with char
 * codes, without the regex's match array and strings. Undefined for anything
 * else, valid or not, which then takes the general path.
 */
function canonicalUtc(text: string): Timestamp | undefined {
  if (
    text.length !== 24 ||
    text.charCodeAt(4) !== 0x2d ||
    text.charCodeAt(7) !== 0x2d ||
    text.charCodeAt(10) !== 0x54 ||
    text.charCodeAt(13) !== 0x3a ||
    text.charCodeAt(16) !== 0x3a ||
    text.charCodeAt(19) !== 0x2e ||
    text.charCodeAt(23) !== 0x5a
  )
    return undefined
  const year = twoDigits(text, 0) * 100 + twoDigits(text, 2)
  const month = twoDigits(text, 5)
  const day = twoDigits(text, 8)
  const hour = twoDigits(text, 11)
  const minute = twoDigits(text, 14)
  const second = twoDigits(text, 17)
  const lastDigit = text.charCodeAt(22) - 0x30
  const millis = twoDigits(text, 20) * 10 + lastDigit
  // NaN fails every comparison below: a non-digit anywhere takes the general path.
  if (
    !(
      year >= 0 &&
      month >= 1 &&
      month <= 12 &&
      day >= 1 &&
      day <= daysIn(year, month) &&
      hour <= 23 &&
      minute <= 59 &&
      second <= 59 &&
      lastDigit >>> 0 < 10 &&
      millis >= 0
    )
  )
    return undefined
  return { ms: utcMs(year, month, day, hour, minute, second, millis), utc: text }
}

/** Any RFC 3339 date-time; exported for the test that holds the fast path to it. */
export function parseTimestampByPattern(text: string): Timestamp | undefined {
  const m = RFC3339.exec(text)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, fraction = '', zulu, sign, oh, om] = m
  const year = Number(y),
    month = Number(mo),
    day = Number(d)
  const hour = Number(h),
    minute = Number(mi),
    second = Number(s)
  // Leap seconds (:60) are refused: neither JavaScript nor PostgreSQL can hold them.
  if (
    month < 1 ||
    month > 12 ||
    day < 1 ||
    day > daysIn(year, month) ||
    hour > 23 ||
    minute > 59 ||
    second > 59
  )
    return undefined
  const digits = fraction.slice(0, 6).padEnd(3, '0')
  const millis = digits.slice(0, 3)
  const micros = digits.slice(3)
  const local = utcMs(year, month, day, hour, minute, second, Number(millis))
  if (zulu) {
    return { ms: local, utc: `${y}-${mo}-${d}T${h}:${mi}:${s}.${millis}${micros}Z` }
  }
  if (Number(oh) > 23 || Number(om) > 59) return undefined
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000
  const ms = local - offsetMs
  const iso = new Date(ms).toISOString()
  return Number.isNaN(ms) ? undefined : { ms, utc: micros ? `${iso.slice(0, -1)}${micros}Z` : iso }
}
