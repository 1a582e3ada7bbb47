import type { DuckDBConnection } from '@duckdb/node-api'
import { blockOf, USER_SETS, usersBitmap } from './replica-schema.ts'

/**
 * Who did what each day is kept as user bitmaps, one per (group, block of
 * 65,536 users): 8 KB each, however few users they hold (at 1M realistic
 * events, 0.4% of their bits are set). The sync used to OR each chunk's users
 * into them, which rewrote every bitmap a chunk touched once per chunk, and
 * DuckDB holds a transaction's new and updated BIT values in memory until
 * commit, so chunks had to be cut to a few thousand rows: the replica built at
 * 7,000 rows/s. Now a chunk only appends its distinct (group, user) rows to
 * `<set>_pending`, and the views the queries read OR those rows' bitmaps into
 * the folded ones on the fly, so every answer stays exact. Folding moves the
 * pending rows into the bitmaps, a bounded range of days per transaction, a
 * batch after each chunk while they pass FOLD_PENDING_ROWS (they cost each
 * query a bitstring_agg over them: measured, +12 ms at 50,000 rows, +31 ms at
 * 200,000) and batch after batch whenever the sync has nothing new to copy.
 */
export const FOLD_PENDING_ROWS = 200_000

// Measured: ~17.5 KB of transaction-local BIT data per bitmap written, plus the
// 8 KB aggregate state and the stored bitmap it is OR-ed into.
const BYTES_PER_BITMAP = 32 * 1024
// The rest of the limit is for the sync's chunk and the queries /stats runs meanwhile.
const BITMAP_SHARE = 1 / 4
const MIN_BITMAPS = 64

const UNITS: Record<string, number> = {
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
}

/** Bytes in a DuckDB memory limit such as '256MB' or '1.5 GiB' (the form config.ts accepts). */
export function memoryLimitBytes(limit: string): number {
  const m = /^([0-9.]+)\s*([KMGT]i?)B$/.exec(limit)
  if (!m) throw new Error(`not a memory limit: ${limit}`)
  return Number(m[1]) * UNITS[m[2]!]!
}

/**
 * DuckDB's WAL size past which it checkpoints: until then committed bitmaps
 * are held in memory too, so the default 16 MB is a large share of a small limit.
 */
export function checkpointThreshold(memoryLimit: string): string {
  return `${Math.max(1, Math.min(16, Math.floor(memoryLimitBytes(memoryLimit) / 12 / 2 ** 20)))}MiB`
}

/** How many bitmaps one fold transaction may write under the given memory limit. */
export function bitmapBudget(memoryLimit: string): number {
  return Math.max(
    MIN_BITMAPS,
    Math.floor((memoryLimitBytes(memoryLimit) * BITMAP_SHARE) / BYTES_PER_BITMAP),
  )
}

const sets = Object.entries(USER_SETS).map(([name, keys]) => ({
  name,
  keys: Object.keys(keys).join(', '),
}))

const PENDING_ROWS = `SELECT ${sets.map((s) => `(SELECT count(*) FROM ${s.name}_pending)`).join(' + ')} AS n`

// The bitmaps each pending day would write, over every set.
const PENDING_DAYS = `
SELECT day - DATE '1970-01-01' AS day, sum(bitmaps)::BIGINT AS bitmaps FROM (
  ${sets
    .map(
      (s) =>
        `SELECT day, count(*) AS bitmaps FROM (SELECT DISTINCT ${s.keys}, ${blockOf('user_key')} FROM ${s.name}_pending) GROUP BY day`,
    )
    .join('\n  UNION ALL\n  ')}
) GROUP BY day ORDER BY day`

const RANGE = `day BETWEEN DATE '1970-01-01' + $1::INTEGER AND DATE '1970-01-01' + $2::INTEGER`

const FOLD_RANGE = sets.flatMap((s) => [
  `INSERT INTO ${s.name}_bitmaps
   SELECT ${s.keys}, ${blockOf('user_key')}, ${usersBitmap('user_key')}
   FROM ${s.name}_pending WHERE ${RANGE} GROUP BY ALL
   ON CONFLICT DO UPDATE SET users = users | excluded.users`,
  `DELETE FROM ${s.name}_pending WHERE ${RANGE}`,
])

/** Rows waiting to be folded, over every set. */
export async function pendingRows(conn: DuckDBConnection): Promise<number> {
  const reader = await conn.runAndReadAll(PENDING_ROWS)
  return Number(reader.getRows()[0]![0])
}

/**
 * Folds the pending rows of the first pending days into the bitmaps, as many
 * consecutive days as `budget` bitmaps allow (at least one), in one
 * transaction that leaves the views' answers as they were. One batch at a
 * time, so the sync can apply new rows between batches. Returns the pending
 * rows left.
 */
export async function foldBatch(conn: DuckDBConnection, budget: number): Promise<number> {
  const days = (await conn.runAndReadAll(PENDING_DAYS)).getRows().map(([day, bitmaps]) => ({
    day: Number(day),
    bitmaps: Number(bitmaps),
  }))
  if (days.length === 0) return 0
  let last = 0
  let bitmaps = days[0]!.bitmaps
  while (last + 1 < days.length && bitmaps + days[last + 1]!.bitmaps <= budget)
    bitmaps += days[++last]!.bitmaps
  await conn.run('BEGIN TRANSACTION')
  try {
    for (const sql of FOLD_RANGE) await conn.run(sql, [days[0]!.day, days[last]!.day])
    await conn.run('COMMIT')
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => {})
    throw err
  }
  return last + 1 < days.length ? pendingRows(conn) : 0
}

/** Folds every pending row, batch by batch. */
export async function foldPending(conn: DuckDBConnection, budget: number): Promise<void> {
  while ((await foldBatch(conn, budget)) > 0) {}
}
