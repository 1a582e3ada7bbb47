import type { FieldError } from '../errors.ts'
import type { SqlClient } from '../store/sql-client.ts'
import type { Source } from './identity-store.ts'
import { storableJson } from './json-text.ts'

/** A message refused on its own while the rest of its request was stored. */
export interface Warning {
  message_id: string
  source: Source
  request_id: string
  /** its position in the request */
  index: number
  /** the metric's reason label, e.g. `invalid_user_id`, `no_user`, `unknown_type` */
  reason: string
  errors: FieldError[]
  /** the message as sent */
  message: unknown
}

export interface StoredWarning extends Omit<Warning, 'message'> {
  id: number
  received_at: string
  /** the message as sent; null when it was too large to keep whole (see message_start) */
  message: unknown
  message_start?: string
}

// Bounded per project: the newest KEEP, and nothing older than KEEP_DAYS.
export const KEEP = 1_000
export const KEEP_DAYS = 7
// A message kept whole up to this size as JSON; a larger one by its start.
const WHOLE_BYTES = 32 * 1024
const START_CHARS = 4 * 1024

/** ingestion_warnings (migration 006). */
export class WarningsStore {
  constructor(private readonly db: SqlClient) {}

  /** Keeps the warnings (a message warned about before is left as it was), then prunes the project's. */
  async add(project: number, warnings: readonly Warning[]): Promise<void> {
    if (warnings.length === 0) return
    const rows = warnings.map((w) => {
      const json = JSON.stringify(w.message) ?? 'null'
      const whole = Buffer.byteLength(json) <= WHOLE_BYTES
      const { index, ...rest } = w
      return {
        ...rest,
        message_index: index,
        message: whole ? w.message : null,
        message_start: whole ? null : json.slice(0, START_CHARS),
      }
    })
    await this.db.query(
      `INSERT INTO ingestion_warnings (project_id, message_id, source, request_id, message_index,
         reason, errors, message, message_start)
       SELECT $1, r.message_id, r.source, r.request_id, r.message_index, r.reason, r.errors, r.message,
              r.message_start
       FROM jsonb_to_recordset($2::jsonb) AS r(message_id uuid, source text, request_id text,
         message_index integer, reason text, errors jsonb, message jsonb, message_start text)
       ON CONFLICT (project_id, message_id) DO NOTHING`,
      [project, storableJson(rows)],
    )
    // Only after a warning is added, so an idle service does no such work; the index keeps it one range scan.
    await this.db.query(
      `DELETE FROM ingestion_warnings
       WHERE project_id = $1
         AND (received_at < now() - make_interval(days => $2)
              OR id <= (SELECT id FROM ingestion_warnings WHERE project_id = $1
                        ORDER BY id DESC OFFSET $3 LIMIT 1))`,
      [project, KEEP_DAYS, KEEP],
    )
  }

  /** The project's newest warnings first, of the last KEEP_DAYS days. */
  async list(project: number, limit: number): Promise<StoredWarning[]> {
    const { rows } = await this.db.query<{
      id: string | number
      message_id: string
      source: Source
      request_id: string
      message_index: number
      reason: string
      errors: FieldError[]
      message: unknown
      message_start: string | null
      received_at: Date
    }>(
      `SELECT id, message_id::text, source, request_id, message_index, reason, errors, message,
              message_start, received_at
       FROM ingestion_warnings
       WHERE project_id = $1 AND received_at >= now() - make_interval(days => $2)
       ORDER BY id DESC LIMIT $3`,
      [project, KEEP_DAYS, limit],
    )
    return rows.map((r) => ({
      id: Number(r.id),
      received_at: new Date(r.received_at).toISOString(),
      source: r.source,
      request_id: r.request_id,
      index: r.message_index,
      message_id: r.message_id,
      reason: r.reason,
      errors: r.errors,
      message: r.message,
      ...(r.message_start !== null ? { message_start: r.message_start } : {}),
    }))
  }
}
