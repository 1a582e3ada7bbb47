import type { DuckDBConnection } from '@duckdb/node-api'
import { listValue } from '@duckdb/node-api'
import { blockOf } from './replica-schema.ts'

/**
 * What bounds a sync chunk's memory. Every bitmap group a chunk rolls up,
 * a (day, block), (day, type, block) or (day, path, value, block), costs a
 * full 8 KB bitmap however few users it holds, and DuckDB keeps a
 * transaction's new and updated BIT values in memory until commit: measured
 * here, 20,000 (day, type) pairs in one chunk held 351 MB of them. A chunk's
 * rows are few next to that (50,000 rows of one day and a few types make a
 * handful of bitmaps), so the number of rows is not the bound; the number of
 * distinct groups is. The sync therefore cuts each chunk at the first row that
 * would take its bitmaps past a budget drawn from the memory limit.
 */

// Measured: ~17.5 KB of transaction-local BIT data per bitmap written, plus the
// 8 KB aggregate state and the stored bitmap it is OR-ed into.
const BYTES_PER_BITMAP = 32 * 1024
// The rest of the limit is for the chunk's rows, its property values, indexes
// and the queries /stats runs meanwhile.
const BITMAP_SHARE = 1 / 4
// A single row writes 2 + (its rolled-up paths) bitmaps; a budget under that
// would cut every chunk to one row.
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

/** How many bitmaps one chunk may write under the given memory limit. */
export function bitmapBudget(memoryLimit: string): number {
  return Math.max(
    MIN_BITMAPS,
    Math.floor((memoryLimitBytes(memoryLimit) * BITMAP_SHARE) / BYTES_PER_BITMAP),
  )
}

// The first row (ord) of every bitmap group the chunk would write; rank them,
// and the first row whose groups take the count past the budget is where the
// chunk ends. A prefix of the chunk then writes at most the budget: each of
// its groups first appears in it. Rolled-up paths are those that have
// rollups now; a path the chunk retires only writes fewer.
const CUT = `
WITH firsts AS (
  SELECT min(ord) AS first FROM sync_keyed GROUP BY day, ${blockOf('user_key')}
  UNION ALL
  SELECT min(ord) FROM sync_keyed GROUP BY day, event_type, ${blockOf('user_key')}
  UNION ALL
  SELECT min(ord) FROM sync_props WHERE list_contains($1::INTEGER[], path_id) GROUP BY day, path_id, type, coalesce(text, ''), ${blockOf('user_key')}
)
SELECT min(first) AS cut FROM (SELECT first, count(*) OVER (ORDER BY first) AS n FROM firsts) WHERE n > $2`

/**
 * Cuts the staged chunk (sync_keyed, sync_props) to the rows whose rollups
 * fit in `budget` bitmaps, and returns how many rows are left: at least one,
 * so the sync always moves.
 */
export async function cutToBudget(
  conn: DuckDBConnection,
  rows: number,
  rolledPathIds: readonly number[],
  budget: number,
): Promise<number> {
  // -1 numbers no path; the client cannot bind an empty list (its item type is unknown).
  const reader = await conn.runAndReadAll(CUT, [
    listValue(rolledPathIds.length > 0 ? [...rolledPathIds] : [-1]),
    budget,
  ])
  const cut = reader.getRows()[0]?.[0]
  if (cut === null || cut === undefined) return rows
  const keep = Math.max(1, Number(cut))
  for (const table of ['sync_keyed', 'sync_props'])
    await conn.run(`DELETE FROM ${table} WHERE ord >= $1`, [keep])
  return keep
}
