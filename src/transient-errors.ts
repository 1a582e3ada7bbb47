// Errors that say "a dependency (PostgreSQL, Redis) is not reachable right now", as opposed to
// "this data cannot be stored". The first kind is retried forever with backoff
// and never counts against an entry; the second counts towards MAX_ATTEMPTS.
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
])

// SQLSTATE classes: 08 connection exception, 53 insufficient resources,
// 57 operator intervention (shutdown, cancel), 58 system error; and
// 40001/40P01, serialization failure and deadlock, which succeed when retried.
const TRANSIENT_SQLSTATE = /^(08|53|57|58)|^40001$|^40P01$/

export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false
  const code = (err as { code?: unknown }).code
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATE.test(code)))
    return true
  return /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|Connection is closed|max retries per request|Command timed out|Stream isn't writeable/i.test(
    err.message,
  )
}

// SQLSTATE classes 22 (data exception: a bad timestamp, NUL in text, a number
// out of range) and 23 (integrity constraint violation): the rows themselves
// cannot be stored, now or on any retry, so the worker sets them aside.
const DATA_SQLSTATE = /^2[23]/

/** Whether the data refused is at fault, rather than the store or the statement. */
export function isDataError(err: unknown): boolean {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined
  return typeof code === 'string' && DATA_SQLSTATE.test(code)
}

/** Exponential backoff with full jitter, capped. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2))
}
