import { DAY_MS } from '../store/event-partitions.ts'

/**
 * Where a retention of `days` cuts on `now`: events that occurred before the
 * start of the UTC day `days` days before today go; today and the `days`
 * whole days before it stay. A cut on a UTC day boundary keeps every per-day
 * rollup of the replica exact: a day is either kept whole or removed whole.
 * Null when nothing is cut.
 */
export function retentionCutoff(days: number | null, now: Date): Date | null {
  if (days === null) return null
  const today = Math.floor(now.getTime() / DAY_MS) * DAY_MS
  return new Date(today - days * DAY_MS)
}

/** A project's own retention, else the service's (RETENTION_DAYS); null keeps everything. */
export function effectiveRetentionDays(
  project: { retention_days: number | null },
  serviceDays: number | null,
): number | null {
  return project.retention_days ?? serviceDays
}

/**
 * The first day a project's events are kept on `now`, in days since
 * 1970-01-01 (the stats' and the export's day numbers); null when every day is.
 */
export function firstKeptDay(
  project: { retention_days: number | null },
  serviceDays: number | null,
  now: Date,
): number | null {
  const cut = retentionCutoff(effectiveRetentionDays(project, serviceDays), now)
  return cut === null ? null : cut.getTime() / DAY_MS
}
