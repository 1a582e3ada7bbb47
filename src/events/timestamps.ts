// RFC 3339 date-times, parsed by hand because this runs for every event of
// every batch: a regex and integer checks cost a fraction of a generic date
// parser plus a format validator, and UTC input (the common case) is turned
// into its canonical form without building a Date at all.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/

/** A cheap shape check, used as the schema's `date-time` format; parseTimestamp does the rest. */
export const RFC3339_SHAPE = RFC3339

export interface Timestamp {
  /** epoch milliseconds */
  ms: number
  /** UTC, `YYYY-MM-DDTHH:MM:SS.mmm[uuu]Z`: milliseconds always, microseconds when given (PostgreSQL's precision) */
  utc: string
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!
}

export function parseTimestamp(text: string): Timestamp | undefined {
  return canonicalUtc(text) ?? parseTimestampByPattern(text)
}

const ZERO = 0x30
const digit = (text: string, i: number) => text.charCodeAt(i) - ZERO
const isDigit = (text: string, i: number) => (text.charCodeAt(i) - ZERO) >>> 0 < 10
// Where the digits of YYYY-MM-DDTHH:MM:SS.mmmZ are.
const DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18, 20, 21, 22]

/**
 * The form JavaScript's toISOString writes and most clients send,
 * YYYY-MM-DDTHH:MM:SS.mmmZ, is its own canonical UTC form: read with char
 * codes, without the regex's match array and strings. Undefined for anything
 * else, valid or not, which then takes the general path.
 */
function canonicalUtc(text: string): Timestamp | undefined {
  if (text.length !== 24 || text.charCodeAt(4) !== 0x2d || text.charCodeAt(7) !== 0x2d || text.charCodeAt(10) !== 0x54 ||
    text.charCodeAt(13) !== 0x3a || text.charCodeAt(16) !== 0x3a || text.charCodeAt(19) !== 0x2e || text.charCodeAt(23) !== 0x5a) return undefined
  for (const i of DIGITS) if (!isDigit(text, i)) return undefined
  const year = digit(text, 0) * 1000 + digit(text, 1) * 100 + digit(text, 2) * 10 + digit(text, 3)
  const month = digit(text, 5) * 10 + digit(text, 6)
  const day = digit(text, 8) * 10 + digit(text, 9)
  const hour = digit(text, 11) * 10 + digit(text, 12)
  const minute = digit(text, 14) * 10 + digit(text, 15)
  const second = digit(text, 17) * 10 + digit(text, 18)
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined
  const millis = digit(text, 20) * 100 + digit(text, 21) * 10 + digit(text, 22)
  return { ms: Date.UTC(year, month - 1, day, hour, minute, second, millis), utc: text }
}

/** Any RFC 3339 date-time; exported for the test that holds the fast path to it. */
export function parseTimestampByPattern(text: string): Timestamp | undefined {
  const m = RFC3339.exec(text)
  if (!m) return undefined
  const [, y, mo, d, h, mi, s, fraction = '', zulu, sign, oh, om] = m
  const year = Number(y), month = Number(mo), day = Number(d)
  const hour = Number(h), minute = Number(mi), second = Number(s)
  // Leap seconds (:60) are refused: neither JavaScript nor PostgreSQL can hold them.
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59) return undefined
  const digits = fraction.slice(0, 6).padEnd(3, '0')
  const millis = digits.slice(0, 3)
  const micros = digits.slice(3)
  const local = Date.UTC(year, month - 1, day, hour, minute, second, Number(millis))
  if (zulu) {
    return { ms: local, utc: `${y}-${mo}-${d}T${h}:${mi}:${s}.${millis}${micros}Z` }
  }
  if (Number(oh) > 23 || Number(om) > 59) return undefined
  const offsetMs = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om)) * 60_000
  const ms = local - offsetMs
  const iso = new Date(ms).toISOString()
  return Number.isNaN(ms) ? undefined : { ms, utc: micros ? `${iso.slice(0, -1)}${micros}Z` : iso }
}
