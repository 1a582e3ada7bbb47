import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Config } from '../config.ts'
import type { ProjectEvent } from '../events/event-schema.ts'
import type { Logger } from '../logger.ts'
import type { EventQueue, QueueEntry } from '../queue/event-queue.ts'
import { decodeCopyRows } from '../store/copy-rows.ts'
import type { CopyEventStore } from '../store/event-store.ts'
import { backoffDelay, isDataError, isTransient } from '../transient-errors.ts'
import { mergeEntries, mergeGroups, type ParsedEntry } from './merge-entries.ts'

export type WorkerOptions = Config['worker']

// Every worker start registers new consumer names; those of workers long gone
// (nothing pending, idle an hour) are removed so the status stays readable.
const PRUNE_EVERY_MS = 60_000
const CONSUMER_MAX_IDLE_MS = 3_600_000

/** Told of every batch stored and acknowledged (the metrics). */
export interface BatchObserver {
  batchStored(events: number, seconds: number): void
}

interface Reject {
  event: ProjectEvent
  error: string
}

/**
 * consume → insert → ack. Each loop reads many entries at once, merges their
 * events into one insert, and acknowledges only after it committed: a crash
 * anywhere leaves the entries pending, and the idempotent insert makes the
 * retry harmless. Entries idle longer than claimIdleMs (a dead worker's, or
 * ones that failed here) are claimed and tried again; after maxAttempts
 * deliveries a failing entry moves to the dead-letter stream. Events the store
 * refuses as data go there at once and alone, the rest of their entry stored.
 */
export class Worker {
  private stopping = false
  private readonly stopController = new AbortController()
  private loops: Promise<void>[] = []
  private readonly consumer = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
  private lastClaimAt = 0
  private lastPruneAt = 0

  constructor(
    private readonly queue: EventQueue,
    private readonly store: CopyEventStore,
    private readonly options: WorkerOptions,
    private readonly log: Logger,
    private readonly observer: BatchObserver,
  ) {}

  start(): void {
    this.log.info(
      { consumer: this.consumer, concurrency: this.options.concurrency },
      'worker started',
    )
    for (let i = 0; i < this.options.concurrency; i++) {
      this.loops.push(this.loop(`${this.consumer}-${i}`))
    }
  }

  /** Finishes the batches in hand (or hands them back, if the store is down) and returns. */
  async stop(): Promise<void> {
    this.stopping = true
    this.stopController.abort()
    await Promise.all(this.loops)
    this.log.info({ consumer: this.consumer }, 'worker stopped')
  }

  private async loop(consumer: string): Promise<void> {
    let failures = 0
    while (!this.stopping) {
      try {
        const entries = await this.nextEntries(consumer)
        if (entries.length > 0) await this.process(consumer, entries)
        failures = 0
      } catch (err) {
        // The queue itself is unreachable: wait and try again.
        failures++
        const delay = backoffDelay(failures, 100, this.options.retryMaxDelayMs)
        this.log.error({ err, consumer, retryInMs: delay }, 'worker loop failed')
        await this.pause(delay)
      }
    }
  }

  private async nextEntries(consumer: string): Promise<QueueEntry[]> {
    const now = Date.now()
    if (now - this.lastPruneAt >= PRUNE_EVERY_MS) {
      this.lastPruneAt = now
      const pruned = await this.queue.pruneConsumers(CONSUMER_MAX_IDLE_MS)
      if (pruned > 0) this.log.info({ pruned }, 'forgot consumers of workers that are gone')
    }
    // Claiming more often than entries can become stale would only cost round trips.
    if (now - this.lastClaimAt >= Math.max(10, this.options.claimIdleMs / 2)) {
      this.lastClaimAt = now
      const stale = await this.queue.claimStale(
        consumer,
        this.options.claimIdleMs,
        this.options.readCount,
      )
      if (stale.length > 0) {
        this.log.warn({ consumer, entries: stale.length }, 'claimed stale entries')
        return stale
      }
    }
    return this.queue.read(consumer, this.options.readCount, this.options.blockMs)
  }

  private async process(consumer: string, entries: QueueEntry[]): Promise<void> {
    for (const group of mergeGroups(entries)) await this.processMerged(consumer, group)
  }

  /**
   * One COPY for the entries' rows, then one INSERT for JSON entries' events.
   * An id in both kinds keeps the COPY's version, whatever the entries'
   * order: only entries left from before the rows format can meet that.
   */
  private async processMerged(consumer: string, entries: QueueEntry[]): Promise<void> {
    const { parsed, unreadable, copy, json, events } = mergeEntries(entries)
    for (const { entry, error } of unreadable) await this.failed(entry, error)
    if (parsed.length === 0) return
    const started = performance.now()
    try {
      const inserted = await this.withStoreRetry(
        consumer,
        parsed,
        async () =>
          (copy ? await this.store.insertCopy(copy) : 0) +
          (json.length > 0 ? await this.store.insert(json) : 0),
      )
      await this.queue.ack(parsed.map((p) => p.entry.id))
      this.observer.batchStored(events, (performance.now() - started) / 1000)
      this.log.info(
        {
          consumer,
          entries: parsed.length,
          events,
          inserted,
          durationMs: Math.round(performance.now() - started),
          requestIds: parsed.map((p) => p.entry.requestId).filter(Boolean),
        },
        'batch stored',
      )
    } catch (err) {
      if (err instanceof StoppedError) return
      // One bad entry must not hold back the others: retry them one by one.
      this.log.warn(
        { err, consumer, entries: parsed.length },
        'merged batch failed; retrying entry by entry',
      )
      for (const p of parsed) await this.processOne(consumer, p)
    }
  }

  private async processOne(consumer: string, p: ParsedEntry): Promise<void> {
    const started = performance.now()
    try {
      // Decoded so that events the store refuses can be told apart and set aside as JSON.
      const events = p.events ?? decodeCopyRows(p.entry.rows!)
      const rejects: Reject[] = []
      const inserted = await this.insertSettingAside(consumer, p, events, rejects)
      if (rejects.length === 0) await this.queue.ack([p.entry.id])
      else await this.queue.deadLetterEvents(p.entry, rejects)
      this.observer.batchStored(
        events.length - rejects.length,
        (performance.now() - started) / 1000,
      )
      for (const r of rejects) {
        this.log.error(
          {
            entryId: p.entry.id,
            eventId: r.event.event_id,
            error: r.error,
            requestId: p.entry.requestId,
          },
          'event dead-lettered',
        )
      }
      this.log.info(
        {
          consumer,
          entries: 1,
          events: events.length,
          inserted,
          deadLettered: rejects.length,
          requestId: p.entry.requestId,
        },
        'entry stored',
      )
    } catch (err) {
      if (err instanceof StoppedError) return
      await this.failed(p.entry, err)
    }
  }

  /**
   * Inserts the events; when the store refuses their data (not itself being
   * away), halves them until the refused events stand alone, so those are set
   * aside into `rejects` and every other event of the entry is stored. Any
   * other error is thrown and counts against the whole entry as before.
   */
  private async insertSettingAside(
    consumer: string,
    p: ParsedEntry,
    events: ProjectEvent[],
    rejects: Reject[],
  ): Promise<number> {
    try {
      return await this.withStoreRetry(consumer, [p], () => this.store.insert(events))
    } catch (err) {
      if (!isDataError(err)) throw err
      if (events.length === 1) {
        rejects.push({
          event: events[0]!,
          error: `${(err as Error).message} (SQLSTATE ${(err as { code: string }).code})`,
        })
        return 0
      }
      // Halving can take a while on a large entry: nobody should claim it meanwhile.
      await this.queue.keepAlive(consumer, [p.entry.id]).catch(() => {})
      const half = Math.ceil(events.length / 2)
      return (
        (await this.insertSettingAside(consumer, p, events.slice(0, half), rejects)) +
        (await this.insertSettingAside(consumer, p, events.slice(half), rejects))
      )
    }
  }

  /**
   * Retries while the store is unreachable, for as long as it takes, keeping the
   * entries claimed. Other errors are thrown at once. On stop it gives up and
   * leaves the entries pending for the next worker.
   */
  private async withStoreRetry<T>(
    consumer: string,
    held: ParsedEntry[],
    fn: () => Promise<T>,
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn()
      } catch (err) {
        if (!isTransient(err)) throw err
        if (this.stopping) throw new StoppedError()
        const delay = backoffDelay(attempt, 100, this.options.retryMaxDelayMs)
        this.log.warn(
          {
            err: { message: (err as Error).message, code: (err as { code?: string }).code },
            consumer,
            retryInMs: delay,
          },
          'store unavailable; backing off',
        )
        await this.pause(delay)
        if (this.stopping) throw new StoppedError()
        await this.queue
          .keepAlive(
            consumer,
            held.map((p) => p.entry.id),
          )
          .catch(() => {})
      }
    }
  }

  private async failed(entry: QueueEntry, err: unknown): Promise<void> {
    const message = err instanceof Error ? err.message : String(err)
    if (entry.deliveries >= this.options.maxAttempts) {
      await this.queue.deadLetter(entry, message)
      this.log.error(
        {
          entryId: entry.id,
          deliveries: entry.deliveries,
          error: message,
          requestId: entry.requestId,
        },
        'entry dead-lettered',
      )
    } else {
      // Left pending: claimStale hands it out again once it has been idle claimIdleMs.
      this.log.warn(
        {
          entryId: entry.id,
          deliveries: entry.deliveries,
          error: message,
          requestId: entry.requestId,
        },
        'entry failed; will retry',
      )
    }
  }

  private async pause(ms: number): Promise<void> {
    await sleep(ms, undefined, { signal: this.stopController.signal }).catch(() => {})
  }
}

class StoppedError extends Error {}
