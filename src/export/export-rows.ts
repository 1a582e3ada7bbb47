import type { Segment } from '../stats/segment.ts'
import { HORIZON } from '../store/change-feed.ts'
import { DAY_MS, spanOfTable, tablesOfProject } from '../store/event-partitions.ts'
import type { SqlClient } from '../store/sql-client.ts'
import { eventCondition, PgParams } from './export-sql.ts'

/** An exported event in the columns the CSV import reads (src/import/csv-source.ts). */
export type ExportRow = [
  event_id: string,
  occurred_at: string,
  user_id: string,
  event_type: string,
  properties_json: string,
]

export interface ExportPlan {
  project: number
  /** UTC days since 1970-01-01, inclusive */
  fromDay: number
  toDay: number
  /** event-level filters (event_type, properties.<path>) */
  segments: readonly Segment[]
  /** only these user ids (person-level filters and the GDPR subject, resolved), when given */
  userIds?: readonly string[]
  /** one of the events table's partitions (migration 011) rather than the whole of it */
  relation?: string
  /** read below this transaction id (xid8 as text) instead of the horizon at the start */
  horizon?: string
  /** leave out the events of users being deleted (the archive: a deletion may not have reached them yet) */
  withoutSuppressed?: boolean
}

export const PAGE_ROWS = 10_000

/**
 * The events of a plan, from PostgreSQL (the source of truth: the replica
 * keeps neither event ids nor the ids events were sent with), table by table
 * of the project's partitions (migration 011) that the range reaches, and in
 * each a page at a time in (xact_id, seq) order along its
 * events_project_sync_idx, each page starting after the last row of the one
 * before. (Over the partitioned table as a whole, the planner would sort
 * every row past the position for each page.) Only transactions older than
 * the horizon at the start are read: that set is final, so pages neither skip
 * nor repeat a row however the store is written meanwhile, and the export is
 * exactly what was committed when it began. Memory: one page.
 */
export async function* exportRows(db: SqlClient, plan: ExportPlan): AsyncGenerator<ExportRow[]> {
  const horizon = plan.horizon ?? (await currentHorizon(db))
  const relations = plan.relation
    ? [plan.relation]
    : await tablesInRange(db, plan.project, plan.fromDay, plan.toDay)
  for (const relation of relations) yield* rowsOf(db, { ...plan, relation }, horizon)
}

/** The project's tables of events whose range meets the days, and the default ones. */
async function tablesInRange(
  db: SqlClient,
  project: number,
  fromDay: number,
  toDay: number,
): Promise<string[]> {
  return (await tablesOfProject(db, project)).filter((name) => {
    const span = spanOfTable(name)
    return !span || (span.end > fromDay * DAY_MS && span.start < (toDay + 1) * DAY_MS)
  })
}

async function* rowsOf(
  db: SqlClient,
  plan: ExportPlan & { relation: string },
  horizon: string,
): AsyncGenerator<ExportRow[]> {
  const params = new PgParams()
  const fixed = [
    `project_id = ${params.add(plan.project)}`,
    `xact_id < ${params.add(horizon)}::text::xid8`,
    // Day numbers, not ISO text: the day after 9999-12-31 has no four-digit year.
    `occurred_at >= (DATE '1970-01-01' + ${params.add(plan.fromDay)}::int)::timestamp AT TIME ZONE 'UTC'`,
    `occurred_at < (DATE '1970-01-01' + ${params.add(plan.toDay + 1)}::int)::timestamp AT TIME ZONE 'UTC'`,
    ...plan.segments.map((s) => eventCondition(s, params)),
  ]
  if (plan.userIds) fixed.push(`user_id = ANY(${params.add(plan.userIds)}::text[])`)
  if (plan.withoutSuppressed)
    fixed.push(
      'NOT EXISTS (SELECT 1 FROM suppressions s WHERE s.project_id = events.project_id AND s.user_id = events.user_id)',
    )
  const after = params.values.length
  const sql = `SELECT xact_id::text, seq::text, event_id::text,
      to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
      user_id, event_type, CASE WHEN properties = '{}'::jsonb THEN '' ELSE properties::text END
    FROM ${plan.relation} events
    WHERE ${fixed.map((c) => `(${c})`).join(' AND ')}
      AND (xact_id, seq) > ($${after + 1}::text::xid8, $${after + 2}::bigint)
    ORDER BY events.xact_id, events.seq -- qualified: bare names would sort by the text columns
    LIMIT ${PAGE_ROWS}`
  let position = ['0', '0']
  for (;;) {
    const { rows } = await db.query<string[]>(sql, [...params.values, ...position], {
      rowMode: 'array',
    })
    if (rows.length === 0) return
    const last = rows[rows.length - 1]!
    position = [last[0]!, last[1]!]
    yield rows.map((r) => r.slice(2) as ExportRow)
    if (rows.length < PAGE_ROWS) return
  }
}

/** The horizon of change-feed.ts now: every transaction below it has ended. */
export async function currentHorizon(db: SqlClient): Promise<string> {
  const { rows } = await db.query<{ xact: string }>(`${HORIZON} SELECT xact::text FROM horizon`)
  return rows[0]!.xact
}
