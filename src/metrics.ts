import {
  Counter,
  collectDefaultMetrics,
  exponentialBuckets,
  Gauge,
  Histogram,
  Registry,
} from 'prom-client'
import type { Analytics } from './analytics/analytics.ts'
import type { CompatObserver } from './compat/intake.ts'
import type { IngestObserver } from './events/ingest-service.ts'
import type { QuotaObserver } from './events/project-quota.ts'
import { DEFAULT_PROJECT_ID } from './projects/project-store.ts'
import type { EventQueue } from './queue/event-queue.ts'
import { withTimeout } from './timeout.ts'
import type { BatchObserver } from './worker/worker.ts'

export type IngestMode = 'queue' | 'direct'

/** What access control reports: refused keys, and rate-limit decisions made without Redis. */
export interface AccessObserver {
  authFailure(outcome: 'unknown_key' | 'blocked'): void
  rateLimitFallback(): void
}

export interface MetricsSources {
  /** read at scrape time for the queue gauges; absent without a queue */
  queue?: Pick<EventQueue, 'status'>
  /** read at scrape time for the sync lag gauges; absent where /stats is not served */
  analytics?: Pick<Analytics, 'lag' | 'syncFailures'>
  /** how long a scrape waits for one of those reads before leaving its values out */
  readTimeoutMs?: number
}

// Prometheus gives up on a scrape after 10 s by default; a slow Redis or
// PostgreSQL must cost its own figures, not the whole scrape.
const READ_TIMEOUT_MS = 2_000

/**
 * What the service reports to Prometheus, in a registry of its own: prom-client's
 * default registry is a module singleton, and tests run several apps in one process.
 */
export class Metrics
  implements IngestObserver, BatchObserver, AccessObserver, QuotaObserver, CompatObserver
{
  readonly registry = new Registry()
  private readonly mode: IngestMode
  private readonly httpDuration: Histogram<'method' | 'route' | 'status'>
  private readonly received: Counter
  private readonly inserted: Counter<'mode'>
  private readonly duplicate: Counter
  private readonly rejected: Counter
  private readonly suppressed: Counter
  private readonly identitiesSuppressedTotal: Counter
  private readonly quotaRefusedEvents: Counter<'project'>
  private readonly batchEvents: Histogram
  private readonly batchDuration: Histogram
  private readonly authFailures: Counter<'outcome'>
  private readonly limiterFallbacks: Counter
  private readonly compatReceived: Counter<'source'>
  private readonly compatRejected: Counter<'source' | 'reason'>
  private readonly compatRefused: Counter<'source' | 'reason'>
  private readonly botsDropped: Counter<'source'>

  constructor(sources: MetricsSources = {}) {
    const registers = [this.registry]
    // The standard process_* and nodejs_* names, unprefixed, so stock dashboards work.
    collectDefaultMetrics({ register: this.registry })
    this.mode = sources.queue ? 'queue' : 'direct'
    this.httpDuration = new Histogram({
      name: 'ea_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    })
    this.received = new Counter({
      name: 'ea_events_received_total',
      registers,
      help: 'valid events handed to ingestion; those neither inserted nor duplicate failed (503/500)',
    })
    this.inserted = new Counter({
      name: 'ea_events_inserted_total',
      labelNames: ['mode'],
      registers,
      help: 'new events: stored (mode="direct") or accepted into the queue for the worker to store (mode="queue")',
    })
    this.duplicate = new Counter({
      name: 'ea_events_duplicate_total',
      help: 'events already stored or repeated within their request',
      registers,
    })
    this.rejected = new Counter({
      name: 'ea_events_rejected_total',
      help: 'events in POST /events requests answered 422',
      registers,
    })
    this.suppressed = new Counter({
      name: 'ea_events_suppressed_total',
      help: 'events refused at intake because their user was deleted (a suppression, until an admin lifts it): not stored, not queued',
      registers,
    })
    this.identitiesSuppressedTotal = new Counter({
      name: 'ea_identity_calls_suppressed_total',
      help: 'identify, alias, group and set calls not recorded because an id they name was deleted (a suppression)',
      registers,
    })
    this.quotaRefusedEvents = new Counter({
      name: 'ea_quota_refused_events_total',
      labelNames: ['project'],
      registers,
      help: 'events refused (429) because their project had accepted its EVENTS_PER_DAY quota for the UTC day',
    })
    // Present from the start at 0, so rate() has a series before the first event.
    this.inserted.inc({ mode: this.mode }, 0)
    this.batchEvents = new Histogram({
      name: 'ea_worker_batch_events',
      help: 'events per batch the worker stored and acknowledged',
      buckets: exponentialBuckets(1, 4, 9),
      registers,
    })
    this.batchDuration = new Histogram({
      name: 'ea_worker_batch_duration_seconds',
      help: 'time from parsed batch to acknowledged, store retries included',
      registers,
    })
    this.authFailures = new Counter({
      name: 'ea_auth_failures_total',
      labelNames: ['outcome'],
      registers,
      help: 'requests refused for their key: unknown or revoked (outcome="unknown_key", 401), or from an address past AUTH_FAILURE_LIMIT (outcome="blocked", 429, no lookup)',
    })
    for (const outcome of ['unknown_key', 'blocked']) this.authFailures.inc({ outcome }, 0)
    this.limiterFallbacks = new Counter({
      name: 'ea_rate_limit_fallback_total',
      registers,
      help: "rate-limit decisions taken by this process's in-memory buckets because Redis failed or was being skipped",
    })
    this.compatReceived = new Counter({
      name: 'ea_compat_messages_received_total',
      labelNames: ['source'],
      registers,
      help: 'messages in SDK requests (source="segment": Segment and RudderStack; "posthog") that reached mapping',
    })
    this.compatRejected = new Counter({
      name: 'ea_compat_messages_rejected_total',
      labelNames: ['source', 'reason'],
      registers,
      help: 'SDK messages refused one by one while the rest of their request was kept; each is an ingestion warning (GET /events/warnings)',
    })
    this.compatRefused = new Counter({
      name: 'ea_compat_requests_refused_total',
      labelNames: ['source', 'reason'],
      registers,
      help: 'SDK requests refused whole for their body (reason: malformed, too_large, message_too_large, too_many_messages, no_messages)',
    })
    this.botsDropped = new Counter({
      name: 'ea_bot_messages_dropped_total',
      labelNames: ['source'],
      registers,
      help: 'browser messages dropped because their User-Agent is a known bot or crawler (source="web": /collect; "posthog": posthog-js); each is an ingestion warning with reason "bot"',
    })
    for (const source of ['segment', 'posthog', 'web']) this.compatReceived.inc({ source }, 0)
    for (const source of ['posthog', 'web']) this.botsDropped.inc({ source }, 0)
    const timeoutMs = sources.readTimeoutMs ?? READ_TIMEOUT_MS
    if (sources.queue) {
      const queue = sources.queue
      // The whole queue's figures: /metrics is the operator's, not a project's.
      const status = oncePerScrape(
        async () => (await queue.status(DEFAULT_PROJECT_ID)).shared,
        timeoutMs,
      )
      new ScrapedGauge(
        'ea_queue_length_entries',
        'entries in the queue stream, pending ones included',
        this.registry,
        async () => (await status())?.length,
      )
      new ScrapedGauge(
        'ea_queue_events',
        'events waiting in the queue',
        this.registry,
        async () => (await status())?.queued_events,
      )
      new ScrapedGauge(
        'ea_queue_pending_entries',
        'entries delivered to a worker and not yet acknowledged',
        this.registry,
        async () => (await status())?.pending,
      )
      new ScrapedGauge(
        'ea_queue_dead_lettered_entries',
        'entries in the dead-letter stream',
        this.registry,
        async () => (await status())?.dead_lettered,
      )
    }
    if (sources.analytics) {
      const analytics = sources.analytics
      const lag = oncePerScrape(() => analytics.lag(), timeoutMs)
      new ScrapedGauge(
        'ea_analytics_sync_lag_rows',
        'stored rows not yet copied into the analytics replica',
        this.registry,
        async () => (await lag())?.rows_behind,
      )
      new ScrapedGauge(
        'ea_analytics_sync_lag_seconds',
        'age of the oldest stored row not yet in the analytics replica',
        this.registry,
        async () => {
          const ms = (await lag())?.ms_behind
          return ms === undefined ? undefined : ms / 1000
        },
      )
      // Read from the sync, which counts its own failures: no read of the store, so always present.
      new Counter({
        name: 'ea_analytics_sync_failures_total',
        help: 'analytics sync chunks that failed (each is retried, or split when out of memory)',
        registers,
        collect() {
          this.reset()
          this.inc(analytics.syncFailures())
        },
      })
    }
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds)
  }

  eventsReceived(count: number): void {
    this.received.inc(count)
  }

  eventsIngested(inserted: number, duplicates: number): void {
    this.inserted.inc({ mode: this.mode }, inserted)
    this.duplicate.inc(duplicates)
  }

  eventsSuppressed(count: number): void {
    this.suppressed.inc(count)
  }

  identitiesSuppressed(count: number): void {
    this.identitiesSuppressedTotal.inc(count)
  }

  eventsRejected(count: number): void {
    this.rejected.inc(count)
  }

  quotaRefused(project: string, events: number): void {
    this.quotaRefusedEvents.inc({ project }, events)
  }

  batchStored(events: number, seconds: number): void {
    this.batchEvents.observe(events)
    this.batchDuration.observe(seconds)
  }

  authFailure(outcome: 'unknown_key' | 'blocked'): void {
    this.authFailures.inc({ outcome })
  }

  rateLimitFallback(): void {
    this.limiterFallbacks.inc()
  }

  compatMessages(source: string, received: number): void {
    this.compatReceived.inc({ source }, received)
  }

  compatMessageRejected(source: string, reason: string): void {
    this.compatRejected.inc({ source, reason })
  }

  botMessagesDropped(source: string, count: number): void {
    this.botsDropped.inc({ source }, count)
  }

  compatRequestRefused(source: string, reason: string): void {
    this.compatRefused.inc({ source, reason })
  }
}

/** A gauge read when scraped. When the read fails it has no sample, rather than a stale or made-up one. */
class ScrapedGauge extends Gauge {
  constructor(
    name: string,
    help: string,
    registry: Registry,
    private readonly read: () => Promise<number | undefined>,
  ) {
    super({ name, help, registers: [registry] })
  }

  override async get() {
    const value = await this.read()
    if (value !== undefined) this.set(value)
    const metric = await super.get()
    return value === undefined ? { ...metric, values: [] } : metric
  }
}

/**
 * Several gauges share one read per scrape: prom-client asks all of them at once,
 * so the first caller starts the read and the others join it. A failed or slow
 * read yields undefined; /health is where the outage itself is reported.
 */
function oncePerScrape<T>(read: () => Promise<T>, timeoutMs: number): () => Promise<T | undefined> {
  let inFlight: Promise<T | undefined> | undefined
  return () => {
    inFlight ??= withTimeout(read(), timeoutMs)
      .catch(() => undefined)
      .finally(() => {
        inFlight = undefined
      })
    return inFlight
  }
}
