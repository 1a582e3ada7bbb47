import type { DuckDBConnection } from '@duckdb/node-api'
import type { ProjectStore } from '../projects/project-store.ts'
import { effectiveRetentionDays, firstKeptDay } from '../retention/cutoff.ts'
import { USER_SETS } from './replica-schema.ts'

/**
 * A project's retention as its replica applies it, whatever PostgreSQL still
 * holds (its sweep runs on a schedule of its own, and may be behind or off):
 * the sync takes no row below the cut, and when the cut moves past rows
 * already copied, they are removed here, exactly, in one DuckDB transaction
 * with the cut it applied (`retention_cut`, replica-schema.ts), so a crash half-way leaves the
 * old cut and every row, or the new cut and none below it.
 *
 * The cut is a UTC day boundary (src/retention/cutoff.ts), so every per-day
 * row is kept or removed whole: nothing is subtracted from a rollup, and the
 * replica equals one built from the kept events alone.
 */

/** A cut as the replica stores and compares it: days since 1970-01-01 (the feed's `day`). */
export type CutDay = number

/** A retention and where it cuts: both null when everything is kept. */
export interface Retention {
  days: number | null
  cut: CutDay | null
}

/** A cut the replica applied, with the retention it came from. */
export interface AppliedCut {
  days: number
  cut: CutDay
}

/**
 * What the replica does to go from the cut it applied to the one wanted now:
 * nothing; cut (remove the days before the wanted cut, and record it); or
 * rebuild from the store, when rows it removed are wanted again (retention
 * lengthened or unset). The same retention with an earlier cut is the clock
 * stepping back (NTP, at midnight): the applied cut stays, and costs no rebuild.
 */
export function cutStep(applied: AppliedCut | null, want: Retention): 'none' | 'cut' | 'rebuild' {
  if (want.cut === null || want.days === null) return applied === null ? 'none' : 'rebuild'
  if (applied === null || want.cut > applied.cut) return 'cut'
  if (want.days === applied.days) return 'none'
  // Another retention that cuts on the same day: only recorded.
  return want.cut === applied.cut ? 'cut' : 'rebuild'
}

const CUT = `DATE '1970-01-01' + $1::INTEGER`

// Users first seen below the cut: moved to their first kept day, or gone
// with their last event (as a deletion does), so cohorts, retention,
// lifecycle and new users read what a rebuild from the kept events would.
// Read from events before they are removed.
const MOVE_USERS = [
  `CREATE OR REPLACE TEMP TABLE cut_first_days AS
   SELECT u.user_key, min(e.day) AS first_day
   FROM users u LEFT JOIN events e ON e.user_key = u.user_key AND e.day >= ${CUT}
   WHERE u.first_day < ${CUT}
   GROUP BY u.user_key`,
  `DELETE FROM users WHERE user_key IN (SELECT user_key FROM cut_first_days WHERE first_day IS NULL)`,
  `UPDATE users SET first_day = c.first_day FROM cut_first_days c
   WHERE users.user_key = c.user_key AND c.first_day IS NOT NULL`,
]

const REMOVE_DAYS = [
  'events',
  'event_props',
  'type_day_counts',
  'prop_day_counts',
  ...Object.keys(USER_SETS).flatMap((name) => [`${name}_bitmaps`, `${name}_pending`]),
].map((table) => `DELETE FROM ${table} WHERE day < ${CUT}`)

export async function appliedCut(conn: DuckDBConnection): Promise<AppliedCut | null> {
  const reader = await conn.runAndReadAll(
    `SELECT days, cut_day - DATE '1970-01-01' FROM retention_cut WHERE id = 1`,
  )
  const row = reader.getRows()[0]
  return row ? { days: Number(row[0]), cut: Number(row[1]) } : null
}

/** Removes every row of the days before the cut and records it; returns the events removed. */
export async function applyCut(conn: DuckDBConnection, { days, cut }: AppliedCut): Promise<number> {
  await conn.run('BEGIN TRANSACTION')
  try {
    const counted = await conn.runAndReadAll(`SELECT count(*) FROM events WHERE day < ${CUT}`, [
      cut,
    ])
    for (const sql of [...MOVE_USERS, ...REMOVE_DAYS])
      await conn.run(sql, sql.includes('$1') ? [cut] : [])
    await conn.run(
      `INSERT INTO retention_cut VALUES (1, ${CUT}, $2)
       ON CONFLICT (id) DO UPDATE SET cut_day = excluded.cut_day, days = excluded.days`,
      [cut, days],
    )
    await conn.run('COMMIT')
    return Number(counted.getRows()[0]![0])
  } catch (err) {
    await conn.run('ROLLBACK').catch(() => {})
    throw err
  }
}

/** Where each project's retention cuts now, from its setting or the service's. */
export class RetentionCuts {
  constructor(
    private readonly projects: Pick<ProjectStore, 'byId'>,
    /** RETENTION_DAYS: for projects without their own setting; null keeps everything */
    private readonly serviceDays: number | null,
    /** the clock the cut moves with; tests move it */
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The project's retention and its cut now. The projects are those the
   * store cached for a few seconds (ProjectStore), so a sync round costs no
   * query; a project deleted meanwhile keeps the service's retention.
   */
  async of(project: number): Promise<Retention> {
    const found = (await this.projects.byId(project)) ?? { retention_days: null }
    return {
      days: effectiveRetentionDays(found, this.serviceDays),
      cut: firstKeptDay(found, this.serviceDays, new Date(this.now())),
    }
  }
}
