import type { Analytics } from '../analytics/analytics.ts'
import { ValidationError } from '../errors.ts'
import type { DayRange } from '../stats/params.ts'
import type { Segment } from '../stats/segment.ts'
import type { ExportPlan } from './export-rows.ts'
import { isEventLevel } from './export-sql.ts'
import type { ExportFormat } from './formats.ts'
import { idsOfPersons, idsOfSubject } from './user-ids.ts'

/**
 * What to read: event-level filters go to PostgreSQL as conditions; the
 * person-level ones (user_id after merges, user.<trait>) and the GDPR subject
 * become the list of ids they stand for, which only the replica knows.
 */
export async function planExport(
  request: {
    project: number
    range: DayRange
    segments: Segment[]
    userId?: string
    /** the project's retention cut (src/retention/cutoff.ts): events before it are not exported */
    firstKeptDay?: number | null
  },
  analytics: Pick<Analytics, 'replicaOf'> | undefined,
): Promise<ExportPlan> {
  const { project, range, segments, userId } = request
  const personLevel = segments.filter((s) => !isEventLevel(s))
  if (personLevel.length > 0 && !analytics)
    throw new ValidationError('1 invalid parameter(s)', [
      {
        field: 'segment',
        message: `${JSON.stringify(personLevel[0]!.text)}: user_id and user.<trait> filters need the analytics replica, which this process does not keep`,
      },
    ])
  const replica = analytics ? await analytics.replicaOf(project) : undefined
  let userIds: string[] | undefined
  if (replica && personLevel.length > 0) userIds = await idsOfPersons(replica, personLevel)
  if (userId !== undefined) {
    const subject = replica ? await idsOfSubject(replica, userId) : [userId]
    const kept = userIds ? new Set(userIds) : undefined
    userIds = kept ? subject.filter((id) => kept.has(id)) : subject
  }
  return {
    project,
    // PostgreSQL drops a table only once all of it is past the cut: what it
    // still holds before the cut is as good as gone.
    fromDay: Math.max(range.from, request.firstKeptDay ?? range.from),
    toDay: range.to,
    segments: segments.filter(isEventLevel),
    ...(userIds ? { userIds } : {}),
  }
}

export function exportFileName(
  project: string,
  from: string,
  to: string,
  format: ExportFormat,
): string {
  return `${project}-events-${from}-to-${to}.${format}`
}
