import type { SqlClient } from '../store/sql-client.ts'
import { storableJson } from './json-text.ts'

export type IdentityKind = 'identify' | 'alias' | 'group' | 'set'
/** Who sent it: an SDK's protocol (src/compat), or the browser script (src/web-intake). */
export type Source = 'segment' | 'posthog' | 'web'

/** One identify, alias, group or set call, as the identity merge will read it. */
export interface IdentityMessage {
  /** the message's event id (src/compat/event-id.ts): a retried call is recorded once */
  message_id: string
  kind: IdentityKind
  source: Source
  user_id: string
  anonymous_id?: string
  previous_id?: string
  group_id?: string
  group_type?: string
  traits: Record<string, unknown>
  traits_once: Record<string, unknown>
  occurred_at: string
}

/**
 * identity_messages (migration 006): what SDKs said about who is who, kept
 * for the identity merge. Written before the request is answered, in one
 * statement; a message id already recorded is left as it was.
 */
export class IdentityStore {
  constructor(private readonly db: SqlClient) {}

  async add(project: number, messages: readonly IdentityMessage[]): Promise<number> {
    if (messages.length === 0) return 0
    // One JSON document for the lot: one bound parameter, the same on PostgreSQL and PGlite.
    const { rowCount } = await this.db.query(
      `INSERT INTO identity_messages (project_id, message_id, kind, source, user_id, anonymous_id,
         previous_id, group_id, group_type, traits, traits_once, occurred_at)
       SELECT $1, r.message_id, r.kind, r.source, r.user_id, r.anonymous_id, r.previous_id,
              r.group_id, r.group_type, r.traits, r.traits_once, r.occurred_at
       FROM jsonb_to_recordset($2::jsonb) AS r(message_id uuid, kind text, source text,
         user_id text, anonymous_id text, previous_id text, group_id text, group_type text,
         traits jsonb, traits_once jsonb, occurred_at timestamptz)
       ON CONFLICT (project_id, message_id) DO NOTHING`,
      [project, storableJson(messages)],
    )
    return rowCount
  }
}
