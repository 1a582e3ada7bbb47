import { Analytics } from './analytics/analytics.ts'
import { RetentionCuts } from './analytics/retention-cut.ts'
import { SyncWaker, wakingStore } from './analytics/sync-waker.ts'
import { ApiKeyStore } from './auth/api-keys.ts'
import { Authenticator } from './auth/authenticator.ts'
import type { Config } from './config.ts'
import { DeletionStore } from './deletion/deletion-store.ts'
import { SuppressionCache } from './deletion/suppression-cache.ts'
import { IdempotencyStore } from './events/idempotency.ts'
import { IngestService } from './events/ingest-service.ts'
import { ProjectQuota } from './events/project-quota.ts'
import { MemoryQuotaStore } from './http/quota/quota-store.ts'
import { RedisQuotaStore } from './http/quota/redis-quota-store.ts'
import { FallbackRateLimitStore } from './http/rate-limit/fallback-store.ts'
import { RedisRateLimitStore } from './http/rate-limit/redis-token-bucket.ts'
import { MemoryRateLimitStore, type RateLimitStore } from './http/rate-limit/token-bucket.ts'
import type { ImportTarget } from './import/import-csv.ts'
import type { Logger } from './logger.ts'
import { Metrics } from './metrics.ts'
import { ProjectStore } from './projects/project-store.ts'
import type { EventQueue } from './queue/event-queue.ts'
import { RedisStreamQueue } from './queue/redis-stream-queue.ts'
import { redisConnector } from './redis.ts'
import { EventsListener } from './store/event-notifications.ts'
import type { CopyEventStore } from './store/event-store.ts'
import { openStore } from './store/open-store.ts'
import { PostgresBulkLoader, PostgresEventStore } from './store/postgres-event-store.ts'
import type { SqlClient } from './store/sql-client.ts'
import { Enricher } from './web-intake/enrich.ts'
import { openGeoip } from './web-intake/geoip.ts'
import { type DailySalt, MemoryDailySalt, RedisDailySalt } from './web-intake/visitor-salt.ts'

// The composition root: the only place that picks implementations and builds
// the long-lived parts. main.ts, the tests and the command-line tools all
// start from here; roles.ts starts and stops what runs.

/** What every process that touches the event store needs, the command-line tools included. */
export interface Storage {
  config: Config
  log: Logger
  /** the SQL store itself (PostgreSQL or embedded PGlite) */
  db: SqlClient
  store: CopyEventStore
  apiKeys: ApiKeyStore
  projects: ProjectStore
  /** the API's Idempotency-Key records, and the import's */
  idempotency: IdempotencyStore
  /** users' deletions, their suppressions and audit (migration 008) */
  deletions: DeletionStore
  close(): Promise<void>
}

export interface Deps extends Storage {
  queue: EventQueue | undefined
  ingest: IngestService
  /** this process's Prometheus registry and metrics */
  metrics: Metrics
  /** present in processes that serve /stats */
  analytics: Analytics | undefined
  authenticator: Authenticator
  /** shared by every API process through Redis when there is one, in memory otherwise */
  rateLimits: RateLimitStore
  /** the browser intake's daily salts (Redis when there is one) and User-Agent/GeoIP facts */
  web: { salts: DailySalt; enricher: Enricher }
  /** the suppressed ids intake refuses, cached in this process */
  suppressions: SuppressionCache
}

export async function openStorage(config: Config, log: Logger): Promise<Storage> {
  const db = await openStore(config, log)
  const store = new PostgresEventStore(db, { retentionDays: config.retention.days })
  return {
    config,
    log,
    db,
    store,
    apiKeys: new ApiKeyStore(db),
    projects: new ProjectStore(db),
    idempotency: new IdempotencyStore(db),
    deletions: new DeletionStore(db),
    close: () => store.close(),
  }
}

/**
 * The CSV import's writer into `project`: on PostgreSQL a COPY on a connection
 * of its own; embedded, the store itself (the same insert as the API, in this
 * process anyway).
 */
export async function bulkWriter(
  storage: Storage,
  project: number,
): Promise<{ writer: ImportTarget; close(): Promise<void> }> {
  const { config, log, store } = storage
  if (!config.databaseUrl) {
    const writer: ImportTarget = {
      insert: (events) => store.insert(events.map((e) => ({ ...e, project_id: project }))),
    }
    return { writer, close: async () => {} }
  }
  const loader = await PostgresBulkLoader.connect(
    {
      url: config.databaseUrl,
      queryTimeoutMs: config.db.queryTimeoutMs,
      retentionDays: config.retention.days,
    },
    project,
    log,
  )
  return { writer: loader, close: () => loader.close() }
}

const LIMITER_TIMEOUT_MS = 100

export async function buildDeps(
  config: Config,
  log: Logger,
  options: {
    analytics: boolean
    /** the clock the replicas' retention cut moves with (tests move it) */
    now?: () => number
  },
): Promise<Deps> {
  const storage = await openStorage(config, log)
  // The sync in this process is woken by this process's inserts (the worker's
  // and the direct ingest's) at once, and by other processes' through PostgreSQL.
  const waker = new SyncWaker()
  const analytics =
    options.analytics && config.analytics.enabled
      ? await Analytics.open(
          config.analytics,
          storage.db,
          storage.projects,
          log.child({ component: 'analytics' }),
          waker,
          new RetentionCuts(storage.projects, config.retention.days, options.now),
        )
      : undefined
  const store = analytics ? wakingStore(storage.store, waker) : storage.store
  const listener =
    analytics && config.databaseUrl
      ? new EventsListener(
          config.databaseUrl,
          () => waker.wake(),
          log.child({ component: 'event-notifications' }),
        )
      : undefined
  const connect = config.redisUrl
    ? redisConnector(config.redisUrl, log.child({ component: 'redis' }))
    : undefined
  const queue =
    config.useQueue && connect
      ? new RedisStreamQueue({
          connect,
          prefix: config.redisKeyPrefix,
          maxEvents: config.queue.maxLength,
        })
      : undefined
  const metrics = new Metrics({ queue, analytics })
  // A rate-limit or quota decision must not hold a request up: a short command
  // timeout, then this process's own buckets (the quota: no count) until Redis answers again.
  const limiterRedis = connect?.(LIMITER_TIMEOUT_MS)
  const quota = new ProjectQuota(
    limiterRedis
      ? new RedisQuotaStore(limiterRedis, config.redisKeyPrefix)
      : new MemoryQuotaStore(),
    log.child({ component: 'quota' }),
    metrics,
  )
  const suppressions = new SuppressionCache(
    storage.db,
    config.deletion.suppressionRefreshMs,
    log.child({ component: 'suppressions' }),
  )
  await suppressions.start()
  const ingest = new IngestService(
    store,
    queue,
    log.child({ component: 'ingest' }),
    metrics,
    quota,
    suppressions,
  )
  const authenticator = new Authenticator(storage.apiKeys, config.apiKey)
  // Known from the start, so an outage of the database later cannot leave it unknown.
  await authenticator.isOpen()
  const rateLimits = limiterRedis
    ? new FallbackRateLimitStore(
        new RedisRateLimitStore(limiterRedis, config.redisKeyPrefix),
        log.child({ component: 'rate-limit' }),
        {
          onFallback: () => metrics.rateLimitFallback(),
        },
      )
    : new MemoryRateLimitStore()
  const web = {
    salts: limiterRedis
      ? new RedisDailySalt(limiterRedis, config.redisKeyPrefix, log.child({ component: 'web' }))
      : new MemoryDailySalt(),
    enricher: new Enricher(
      config.geoipDb
        ? await openGeoip(config.geoipDb, log.child({ component: 'geoip' }))
        : undefined,
    ),
  }
  listener?.start()
  return {
    ...storage,
    store,
    queue,
    ingest,
    metrics,
    analytics,
    authenticator,
    rateLimits,
    web,
    suppressions,
    async close() {
      suppressions.stop()
      await listener?.stop()
      await analytics?.close()
      await queue?.close()
      limiterRedis?.disconnect()
      await storage.close()
    },
  }
}
