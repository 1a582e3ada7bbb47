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
 * statement; a message id already recorded is left as it was. A call naming
 * an id being deleted (a suppression, migration 008: as user, anonymous or
 * previous id) is not recorded: its traits are that person's data too.
 */
export class IdentityStore {
  constructor(private readonly db: SqlClient) {}

  /** Records the calls; returns the message ids of those refused as suppressed. */
  async add(project: number, messages: readonly IdentityMessage[]): Promise<string[]> {
    if (messages.length === 0) return []
    // One JSON document for the lot: one bound parameter, the same on PostgreSQL and PGlite.
    const { rows } = await this.db.query<{ message_id: string }>(
      `WITH r AS (
         SELECT * FROM jsonb_to_recordset($2::jsonb) AS r(message_id uuid, kind text, source text,
           user_id text, anonymous_id text, previous_id text, group_id text, group_type text,
           traits jsonb, traits_once jsonb, occurred_at timestamptz)
       ), refused AS (
         SELECT r.message_id FROM r WHERE EXISTS (
           SELECT 1 FROM suppressions s
           WHERE s.project_id = $1 AND s.user_id IN (r.user_id, r.anonymous_id, r.previous_id))
       ), recorded AS (
         INSERT INTO identity_messages (project_id, message_id, kind, source, user_id, anonymous_id,
           previous_id, group_id, group_type, traits, traits_once, occurred_at)
         SELECT $1, r.message_id, r.kind, r.source, r.user_id, r.anonymous_id, r.previous_id,
                r.group_id, r.group_type, r.traits, r.traits_once, r.occurred_at
         FROM r WHERE r.message_id NOT IN (SELECT message_id FROM refused)
         ON CONFLICT (project_id, message_id) DO NOTHING
       )
       SELECT message_id::text FROM refused`,
      [project, storableJson(messages)],
    )
    return rows.map((r) => r.message_id)
  }
}
