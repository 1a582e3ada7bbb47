import type { ProjectEvent } from '../events/event-schema.ts'
import { rowStarts, withProjects } from './copy-batch.ts'

// PostgreSQL counts timestamps in microseconds from 2000-01-01T00:00:00Z.
const PG_EPOCH_MS = 946_684_800_000n

/**
 * COPY rows (CopyBatch.finish(false)) back as events. Only the rare paths
 * need it: an entry retried event by event, whose refused events must be set
 * aside one by one and dead-lettered as JSON, and an embedded store, which
 * has no COPY. Rows queued before projects get the default one. The time comes back in validation's form, with microseconds
 * only when there are any.
 */
export function decodeCopyRows(queued: Buffer): ProjectEvent[] {
  const rows = withProjects(queued)
  return rowStarts(rows).map((start) => {
    let at = start + 2
    const field = (): Buffer => {
      const length = rows.readInt32BE(at)
      const value = rows.subarray(at + 4, at + 4 + length)
      at += 4 + length
      return value
    }
    const id = field().toString('hex')
    const project = field().readInt32BE(0)
    const micros = field().readBigInt64BE(0)
    const userId = field().toString('utf8')
    const eventType = field().toString('utf8')
    // jsonb's binary form: a version byte, then the JSON text.
    const properties = JSON.parse(field().subarray(1).toString('utf8')) as Record<string, unknown>
    return {
      event_id: `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`,
      occurred_at: isoTime(micros),
      user_id: userId,
      event_type: eventType,
      properties,
      project_id: project,
    }
  })
}

function isoTime(pgMicros: bigint): string {
  let ms = pgMicros / 1000n
  let sub = pgMicros % 1000n
  // BigInt division truncates toward zero; times before 2000 need the floor.
  if (sub < 0n) {
    ms -= 1n
    sub += 1000n
  }
  const iso = new Date(Number(ms + PG_EPOCH_MS)).toISOString()
  return sub === 0n ? iso : `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z`
}
