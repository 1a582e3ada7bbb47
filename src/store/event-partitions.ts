import type { ProjectEvent } from '../events/event-schema.ts'
import { FRAME, rowStarts } from './copy-batch.ts'
import type { CopyData } from './copy-insert.ts'
import type { SqlClient } from './sql-client.ts'

/** A project's day of events: its first instant (UTC midnight), in ms. */
export interface PartitionKey {
  project: number
  day: number
}

export const DAY_MS = 86_400_000
// PostgreSQL counts timestamps in microseconds from 2000-01-01T00:00:00Z.
const PG_EPOCH_MS = 946_684_800_000
// The occurred_at field's length sits after the field count, the uuid and the project.
const TIME_LENGTH_OFFSET = 2 + 4 + 16 + 4 + 4

/** A pool, a connection of one, or PGlite. */
type Queryable = { query(text: string, values: unknown[]): Promise<unknown> }

// A project's leaf tables of events (migration 011), and the default table
// of projects without a table of their own; names from the catalog.
const PROJECT_TABLES = `
SELECT relid::regclass::text AS name
FROM pg_partition_tree(to_regclass(format('events_p%s', $1::int))) WHERE isleaf
UNION ALL SELECT 'events_default'`

/** Every table that may hold a project's events: its day, week and month tables (spanOfTable) and the default ones. */
export async function tablesOfProject(db: SqlClient, project: number): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(PROJECT_TABLES, [project])
  return rows.map((r) => r.name)
}

/**
 * The day, week or month tables of migration 011 that a writer's rows need, made
 * before the rows are inserted (which span, the store decides from the
 * project's retention; `serviceDays` is RETENTION_DAYS). Each writer
 * remembers the days it has seen covered, so after the first batch of a day
 * this costs nothing: a new day or a backfill of old ones is one extra round
 * trip, once per process.
 */
export class EventPartitions {
  private readonly known = new Set<string>()

  constructor(private readonly serviceDays: number | null) {}

  async ensure(db: Queryable, keys: Iterable<PartitionKey>): Promise<void> {
    const projects: number[] = []
    const days: string[] = []
    const wanted = new Set<string>()
    for (const { project, day } of keys) {
      const key = `${project}/${day}`
      if (this.known.has(key) || wanted.has(key)) continue
      wanted.add(key)
      projects.push(project)
      days.push(new Date(day).toISOString())
    }
    if (projects.length === 0) return
    // A table it could not make (the lock not had in time, or rows of its
    // range in the default table already) is not tried again by this process:
    // its rows are stored in the default table meanwhile, and the retention
    // sweep, which makes the coming days and months ahead of time, tries again.
    await db.query('SELECT ensure_event_partitions($1::int[], $2::timestamptz[], $3::int)', [
      projects,
      days,
      this.serviceDays,
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

/** The first instant of the UTC day of a time in ms. */
export function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS) * DAY_MS
}

/** The (project, day) pairs of events. */
export function partitionKeysOf(events: readonly ProjectEvent[]): PartitionKey[] {
  // A time that does not parse is left for PostgreSQL to refuse, as the
  // writer's insert does, event by event.
  const pairs = events.map((e): [number, number] => [e.project_id, Date.parse(e.occurred_at)])
  return distinct(pairs.filter(([, ms]) => Number.isFinite(ms)))
}

/**
 * The (project, day) pairs of a binary COPY stream of CopyBatch's six
 * fields, read off the rows without decoding them.
 */
export function partitionKeysOfCopy({ data }: CopyData): PartitionKey[] {
  const rows = data.subarray(FRAME.header, data.length - FRAME.trailer)
  return distinct(
    rowStarts(rows).map((start): [number, number] => [
      rows.readInt32BE(start + TIME_LENGTH_OFFSET - 4),
      PG_EPOCH_MS + Math.floor(Number(rows.readBigInt64BE(start + TIME_LENGTH_OFFSET + 4)) / 1000),
    ]),
  )
}

function distinct(pairs: Array<[number, number]>): PartitionKey[] {
  const out = new Map<string, PartitionKey>()
  for (const [project, ms] of pairs) {
    const day = dayOf(ms)
    out.set(`${project}/${day}`, { project, day })
  }
  return [...out.values()]
}

/**
 * Where a table of events named for a day (…_YYYYMMDD), an ISO week
 * (…_wYYYYMMDD) or a month (…_YYYYMM) begins and ends, in ms (migration 011);
 * undefined for the default tables.
 */
export function spanOfTable(name: string): { start: number; end: number } | undefined {
  const range = /_(w?\d{8}|\d{6})$/.exec(name)?.[1]
  if (!range) return undefined
  const digits = range.replace(/^w/, '')
  const y = Number(digits.slice(0, 4))
  const m = Number(digits.slice(4, 6)) - 1
  if (digits.length === 6) return { start: Date.UTC(y, m, 1), end: Date.UTC(y, m + 1, 1) }
  const start = Date.UTC(y, m, Number(digits.slice(6)))
  return { start, end: start + (range.startsWith('w') ? 7 : 1) * DAY_MS }
}
