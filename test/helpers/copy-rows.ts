import type { NormalizedEvent } from '../../src/events/event-schema.ts'

const PG_EPOCH_MICROS = 946_684_800_000_000n

/** A normalised time (validation's form) as PostgreSQL's microseconds since 2000-01-01. */
export function pgMicros(utc: string): bigint {
  const ms = Date.parse(`${utc.slice(0, 23)}Z`)
  const extra = utc.length === 27 ? BigInt(utc.slice(23, 26)) : 0n
  return BigInt(ms) * 1000n + extra - PG_EPOCH_MICROS
}

/**
 * COPY rows as a version before projects queued them (finish(false) then),
 * built by hand: five fields, (event_id, occurred_at, user_id, event_type,
 * properties), no project.
 */
export function legacyRows(events: readonly NormalizedEvent[]): Buffer {
  const parts: Buffer[] = []
  const field = (value: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeInt32BE(value.length)
    parts.push(length, value)
  }
  for (const e of events) {
    const count = Buffer.alloc(2)
    count.writeInt16BE(5)
    parts.push(count)
    field(Buffer.from(e.event_id.replaceAll('-', ''), 'hex'))
    const micros = Buffer.alloc(8)
    micros.writeBigInt64BE(pgMicros(e.occurred_at))
    field(micros)
    field(Buffer.from(e.user_id, 'utf8'))
    field(Buffer.from(e.event_type, 'utf8'))
    // jsonb's binary form: a version byte, then the JSON text.
    field(Buffer.concat([Buffer.from([1]), Buffer.from(JSON.stringify(e.properties), 'utf8')]))
  }
  return Buffer.concat(parts)
}
