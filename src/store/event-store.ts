import type { NormalizedEvent } from '../events/event-schema.ts'

/**
 * Where events are kept, once each. One implementation, PostgresEventStore,
 * serves both modes through a SqlClient (open-store.ts): a PostgreSQL pool in
 * server mode, PGlite in DATA_DIR when embedded. Every method is one round
 * trip, whatever the batch size.
 */
export interface EventStore {
  /** Inserts what is not stored yet; the first stored version of an id wins. Returns how many were new. */
  insert(events: readonly NormalizedEvent[]): Promise<number>
  /** Which of these ids are already stored. */
  existingIds(ids: readonly string[]): Promise<Set<string>>
  ping(): Promise<void>
  close(): Promise<void>
}
