import type { NormalizedEvent, ProjectEvent } from '../events/event-schema.ts'

/** One queued request, as a consumer sees it. The events are decoded by the consumer, so a corrupt entry is its problem, not the queue's. */
export interface QueueEntry {
  id: string
  /**
   * The events as binary COPY rows (CopyBatch.finish(false)): in id order, the
   * form the store loads, so no one parses or serialises them again.
   */
  rows?: Buffer
  /** or a JSON array of events: entries written before rows, or by hand (no project_id: the default project) */
  payload?: string
  /** how many events the entry says it holds */
  count: number
  /** the project its events belong to */
  project: number
  requestId?: string
  /** how many times this entry has been delivered, this time included */
  deliveries: number
}

/** The queue as one project sees it, and the shared queue as only a service-wide key sees it. */
export interface QueueStatus {
  enabled: boolean
  /** the project's events waiting in the queue */
  queued_events: number
  /** the project's dead-letter records */
  dead_lettered: number
  max_events: number
  shared: SharedQueueStatus
}

export interface SharedQueueStatus {
  length: number
  queued_events: number
  pending: number
  dead_lettered: number
  consumers: Array<{ name: string; pending: number; idle_ms: number }>
}

export class QueueFullError extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super('the queue is full')
  }
}

/** The durable hand-off between the API and the workers: at-least-once delivery. */
export interface EventQueue {
  /**
   * Adds one entry holding these events of one project (one version of each
   * id); throws QueueFullError rather than exceed the bound.
   * `propertiesJson[i]`, when given, is events[i].properties serialised, as
   * validation did already.
   */
  enqueue(
    events: readonly NormalizedEvent[],
    meta: { project: number; requestId?: string; propertiesJson?: readonly string[] },
  ): Promise<string>
  /** New entries for this consumer, waiting up to blockMs for the first. */
  read(consumer: string, count: number, blockMs: number): Promise<QueueEntry[]>
  /** Entries left unacknowledged longer than minIdleMs by any consumer (a dead worker, a failed try), now owned by this one. */
  claimStale(consumer: string, minIdleMs: number, count: number): Promise<QueueEntry[]>
  /** Resets the idle time of entries this consumer still works on, so nobody claims them meanwhile. */
  keepAlive(consumer: string, ids: readonly string[]): Promise<void>
  /** Done with these entries: they leave the queue. */
  ack(ids: readonly string[]): Promise<void>
  /** Forgets consumers idle longer than maxIdleMs that hold nothing (workers that are gone). Returns how many. */
  pruneConsumers(maxIdleMs: number): Promise<number>
  /** Gives up on an entry: it moves, with the error, to the dead-letter stream. */
  deadLetter(entry: QueueEntry, error: string): Promise<void>
  /**
   * Done with an entry whose other events are stored: these events move to the
   * dead-letter stream, one record each with its error, and the entry leaves the queue.
   */
  deadLetterEvents(
    entry: QueueEntry,
    rejects: ReadonlyArray<{ event: ProjectEvent; error: string }>,
  ): Promise<void>
  /** The queue's figures, those of its events and dead letters for `project`. */
  status(project: number): Promise<QueueStatus>
  ping(): Promise<void>
  close(): Promise<void>
}
