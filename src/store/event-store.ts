import type { ProjectEvent } from '../events/event-schema.ts'
import type { CopyData } from './copy-insert.ts'

/**
 * Where events are kept, once each. One implementation, PostgresEventStore,
 * serves both modes through a SqlClient (open-store.ts): a PostgreSQL pool in
 * server mode, PGlite in DATA_DIR when embedded. Every method is one round
 * trip (insertCopy a transaction of a few), whatever the batch size.
 */
export interface EventStore {
  /** Inserts what is not stored yet; the first stored version of an (id, project) wins. Returns how many were new. */
  insert(events: readonly ProjectEvent[]): Promise<number>
  /** Which of these ids (validated event ids) the project has stored already. */
  existingIds(ids: readonly string[], project: number): Promise<Set<string>>
  ping(): Promise<void>
  close(): Promise<void>
}

/** The store as the worker writes to it: also from rows already encoded for COPY. */
export interface CopyEventStore extends EventStore {
  /** whether insertCopy is a real COPY (PostgreSQL), rather than its rows decoded for insert (PGlite) */
  readonly copies: boolean
  /**
   * Inserts rows already encoded as a binary COPY stream (CopyBatch.finish():
   * in (id, project) order, one version of each), as insert does: the queue's entries.
   */
  insertCopy(copy: CopyData): Promise<number>
}
