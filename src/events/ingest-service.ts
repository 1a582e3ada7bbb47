import type { SuppressionCheck } from '../deletion/suppression-cache.ts'
import type { Logger } from '../logger.ts'
import type { Project } from '../projects/project-store.ts'
import type { EventQueue } from '../queue/event-queue.ts'
import { copyBinary } from '../store/copy-batch.ts'
import type { CopyEventStore } from '../store/event-store.ts'
import { withTimeout } from '../timeout.ts'
import type { IngestResponse, NormalizedEvent } from './event-schema.ts'
import type { ProjectQuota } from './project-quota.ts'

export interface IngestResult {
  status: 201 | 202
  body: IngestResponse
}

// The duplicate lookup only makes the response's counts exact; ingestion must
// not stall on it, so it gets a short leash.
const LOOKUP_TIMEOUT_MS = 1_000

/** Told what became of the events handed in (the metrics). */
export interface IngestObserver {
  eventsReceived(count: number): void
  /** in queue mode `inserted` counts the events accepted into the queue */
  eventsIngested(inserted: number, duplicates: number): void
  /** events refused because their user is being (or was) deleted */
  eventsSuppressed(count: number): void
}

/**
 * Takes validated, normalised events. Without a queue it writes them before
 * answering (201); with one it enqueues what is not stored yet (202), and the
 * worker's idempotent insert settles any race.
 */
export class IngestService {
  constructor(
    private readonly store: CopyEventStore,
    private readonly queue: EventQueue | undefined,
    private readonly log: Logger,
    private readonly observer: IngestObserver,
    private readonly quota?: ProjectQuota,
    private readonly suppressions?: SuppressionCheck,
  ) {}

  /** `project`'s events; `propertiesJson[i]`, when given, is events[i].properties serialised, as validation did. */
  async ingest(
    events: readonly NormalizedEvent[],
    project: Pick<Project, 'id' | 'name' | 'events_per_day'>,
    requestId: string,
    propertiesJson?: readonly string[],
  ): Promise<IngestResult> {
    const total = events.length
    this.observer.eventsReceived(total)
    // Events of deleted users are refused first: they count as neither inserted nor duplicates.
    const kept = this.unsuppressed(events, project.id)
    const suppressed = kept ? total - kept.length : 0
    if (kept) {
      propertiesJson = propertiesJson && kept.map((i) => propertiesJson![i]!)
      events = kept.map((i) => events[i]!)
      this.observer.eventsSuppressed(suppressed)
    }
    const firsts = firstOccurrences(events)
    const unique = firsts ? firsts.map((i) => events[i]!) : events
    const uniqueJson =
      firsts && propertiesJson ? firsts.map((i) => propertiesJson[i]!) : propertiesJson
    const refused = suppressed > 0 ? { suppressed } : {}
    if (!this.queue) {
      // Under a quota, ids already stored must not count: they are looked up
      // first (a resend at a full quota adds nothing, so it is not refused);
      // what a racing request stored meanwhile is given back after the insert.
      const counted =
        this.quota && project.events_per_day !== null
          ? unique.length -
            (
              await this.alreadyStored(
                unique.map((e) => e.event_id),
                project.id,
              )
            ).size
          : unique.length
      const giveBack = await this.take(project, counted)
      let inserted = 0
      try {
        // On PostgreSQL a binary COPY of the request, which costs both sides far
        // less than the INSERT's bound arrays; PGlite has no COPY.
        inserted = this.store.copies
          ? await this.store.insertCopy(copyBinary(unique, project.id, uniqueJson))
          : await this.store.insert(unique.map((e) => ({ ...e, project_id: project.id })))
      } finally {
        await giveBack(counted - inserted)
      }
      this.observer.eventsIngested(inserted, total - suppressed - inserted)
      return {
        status: 201,
        body: {
          total_received: total,
          inserted,
          duplicates: total - suppressed - inserted,
          ...refused,
          message: 'events stored',
        },
      }
    }
    const stored = await this.alreadyStored(
      unique.map((e) => e.event_id),
      project.id,
    )
    let fresh = unique
    let freshJson = uniqueJson
    if (stored.size > 0) {
      const keep = unique.map((e) => !stored.has(e.event_id))
      fresh = unique.filter((_, i) => keep[i])
      freshJson = uniqueJson?.filter((_, i) => keep[i])
    }
    if (fresh.length > 0) {
      const giveBack = await this.take(project, fresh.length)
      try {
        await this.queue.enqueue(fresh, {
          project: project.id,
          requestId,
          propertiesJson: freshJson,
        })
      } catch (err) {
        await giveBack(fresh.length)
        throw err
      }
    }
    this.observer.eventsIngested(fresh.length, total - suppressed - fresh.length)
    return {
      status: 202,
      body: {
        total_received: total,
        inserted: fresh.length,
        duplicates: total - suppressed - fresh.length,
        ...refused,
        message: 'events accepted for processing',
      },
    }
  }

  /** The indexes of the events whose user is not suppressed; undefined when none is. */
  private unsuppressed(events: readonly NormalizedEvent[], project: number): number[] | undefined {
    const check = this.suppressions
    if (!check) return undefined
    let kept: number[] | undefined
    for (let i = 0; i < events.length; i++) {
      if (!check.isSuppressed(project, events[i]!.user_id)) kept?.push(i)
      else kept ??= Array.from({ length: i }, (_, k) => k)
    }
    return kept
  }

  private take(project: Pick<Project, 'id' | 'name' | 'events_per_day'>, events: number) {
    return this.quota ? this.quota.take(project, events) : Promise.resolve(async () => {})
  }

  private async alreadyStored(ids: string[], project: number): Promise<Set<string>> {
    try {
      return await withTimeout(this.store.existingIds(ids, project), LOOKUP_TIMEOUT_MS)
    } catch (err) {
      // The store being slow or down must not stop intake: the queue keeps the
      // events and the worker's insert drops the duplicates.
      this.log.warn({ err }, 'duplicate lookup failed; enqueueing the whole batch')
      return new Set()
    }
  }
}

/** The first occurrence of each event_id, in order. */
export function dedupeById(events: readonly NormalizedEvent[]): NormalizedEvent[] {
  const firsts = firstOccurrences(events)
  return firsts ? firsts.map((i) => events[i]!) : [...events]
}

/** The index of the first occurrence of each event_id, in order; undefined when no id repeats. */
function firstOccurrences(events: readonly NormalizedEvent[]): number[] | undefined {
  const seen = new Set<string>()
  let firsts: number[] | undefined
  for (let i = 0; i < events.length; i++) {
    const id = events[i]!.event_id
    if (!seen.has(id)) {
      seen.add(id)
      firsts?.push(i)
    } else if (!firsts) {
      firsts = Array.from({ length: i }, (_, k) => k)
    }
  }
  return firsts
}
