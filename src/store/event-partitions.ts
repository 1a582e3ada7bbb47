import type { ProjectEvent } from '../events/event-schema.ts'
import { FRAME, rowStarts } from './copy-batch.ts'
import type { CopyData } from './copy-insert.ts'

/** A project's month of events: the first day of the month, UTC, in ms. */
export interface PartitionKey {
  project: number
  month: number
}

const DAY_MICROS = 86_400_000_000
// PostgreSQL counts timestamps in microseconds from 2000-01-01T00:00:00Z.
const PG_EPOCH_MS = 946_684_800_000
// The occurred_at field's length sits after the field count, the uuid and the project.
const TIME_LENGTH_OFFSET = 2 + 4 + 16 + 4 + 4

/** A pool, a connection of one, or PGlite. */
type Queryable = { query(text: string, values: unknown[]): Promise<unknown> }

/**
 * The month tables of migration 011 that a writer's rows need, made before the
 * rows are inserted. Each writer remembers what it has made or found, so
 * after the first batch of a month this costs nothing: a new month or a
 * backfill of old ones is one extra round trip, once per process.
 */
export class EventPartitions {
  private readonly known = new Set<string>()

  async ensure(db: Queryable, keys: Iterable<PartitionKey>): Promise<void> {
    const projects: number[] = []
    const months: string[] = []
    const wanted = new Set<string>()
    for (const { project, month } of keys) {
      const key = `${project}/${month}`
      if (this.known.has(key) || wanted.has(key)) continue
      wanted.add(key)
      projects.push(project)
      months.push(new Date(month).toISOString())
    }
    if (projects.length === 0) return
    // A month it could not make (the lock not had in time, or rows of it in the
    // default table already) is not tried again by this process: its rows are
    // stored in the default table meanwhile, and the retention sweep, which
    // makes the coming months ahead of time, tries again.
    await db.query('SELECT ensure_event_partitions($1::int[], $2::timestamptz[])', [
      projects,
      months,
    ])
    for (const key of wanted) this.known.add(key)
  }
}

/** The first instant of the UTC month of a time in ms. */
export function monthOf(ms: number): number {
  // Not Date.UTC(year, month, 1), which takes years 0 to 99 for 1900 to 1999.
  const d = new Date(ms)
  d.setUTCHours(0, 0, 0, 0)
  return d.setUTCDate(1)
}

/** The (project, month) pairs of events. */
export function partitionKeysOf(events: readonly ProjectEvent[]): PartitionKey[] {
  // A time that does not parse is left for PostgreSQL to refuse, as the
  // writer's insert does, event by event.
  const pairs = events.map((e): [number, number] => [e.project_id, Date.parse(e.occurred_at)])
  return distinct(pairs.filter(([, ms]) => Number.isFinite(ms)))
}

/**
 * The (project, month) pairs of a binary COPY stream of CopyBatch's six
 * fields, read off the rows without decoding them: a batch of 50,000 rows
 * holds a few distinct days, so each day's month is worked out once.
 */
export function partitionKeysOfCopy({ data }: CopyData): PartitionKey[] {
  const rows = data.subarray(FRAME.header, data.length - FRAME.trailer)
  const pairs: Array<[number, number]> = []
  const seen = new Set<string>()
  for (const start of rowStarts(rows)) {
    const project = rows.readInt32BE(start + TIME_LENGTH_OFFSET - 4)
    const micros = Number(rows.readBigInt64BE(start + TIME_LENGTH_OFFSET + 4))
    const day = Math.floor(micros / DAY_MICROS)
    const key = `${project}/${day}`
    if (seen.has(key)) continue
    seen.add(key)
    pairs.push([project, PG_EPOCH_MS + day * 86_400_000])
  }
  return distinct(pairs)
}

function distinct(pairs: Array<[number, number]>): PartitionKey[] {
  const out = new Map<string, PartitionKey>()
  for (const [project, ms] of pairs) {
    const month = monthOf(ms)
    out.set(`${project}/${month}`, { project, month })
  }
  return [...out.values()]
}
