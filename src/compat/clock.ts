import { MAX_MS, MIN_MS, parseTimestamp } from '../events/timestamps.ts'

/**
 * When a message happened, corrected for the sender's clock the way Segment,
 * RudderStack and PostHog correct it: the client's clock is trusted for
 * intervals, not for the hour. `client` is the message's own time (Segment's
 * timestamp, else its originalTimestamp; PostHog's timestamp) and `sentAt` the
 * sender's clock when it sent the request (Segment's sentAt, PostHog's
 * sent_at). With both, the message happened `sentAt - client` before it was
 * received; with no sentAt, at `client` as sent; with neither, when received.
 */
export type Occurred = { at: string } | { error: string }

const RANGE = 'must be between 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999Z'

export function occurredAt(
  client: unknown,
  sentAt: unknown,
  receivedMs: number,
  /** PostHog's offset: milliseconds between the message and the send, used when it has no time of its own */
  offsetMs?: unknown,
): Occurred {
  if (client === undefined || client === null) {
    if (typeof offsetMs === 'number' && Number.isFinite(offsetMs))
      return fromMs(receivedMs - offsetMs, '')
    return { at: new Date(receivedMs).toISOString() }
  }
  if (typeof client !== 'string') return { error: 'must be an RFC 3339 date-time string' }
  const sent = (typeof sentAt === 'string' ? parseTimestamp(sentAt) : undefined) ?? epochMs(sentAt)
  const time = parseTimestamp(client)
  // Without a usable send time, or an own time to correct, the time is judged as sent (POST /events' rules).
  if (!sent || !time) return { at: client }
  // Whole milliseconds moved; the client's microseconds, if it gave any, kept.
  const micros = time.utc.length === 27 ? time.utc.slice(23, 26) : ''
  return fromMs(time.ms + (receivedMs - sent.ms), micros)
}

/** PostHog's browser client sends its send time as `?_=<epoch ms>`. */
function epochMs(value: unknown): { ms: number } | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return { ms: value }
  if (typeof value === 'string' && /^\d{1,15}$/.test(value)) return { ms: Number(value) }
  return undefined
}

function fromMs(ms: number, micros: string): Occurred {
  if (!(ms >= MIN_MS && ms <= MAX_MS)) return { error: RANGE }
  const iso = new Date(Math.round(ms)).toISOString()
  return { at: micros ? `${iso.slice(0, -1)}${micros}Z` : iso }
}
