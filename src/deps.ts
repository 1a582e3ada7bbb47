import { Redis } from 'ioredis'
import { Analytics } from './analytics/analytics.ts'
import { ApiKeyStore } from './auth/api-keys.ts'
import { Authenticator } from './auth/authenticator.ts'
import { RedisRateLimitStore } from './http/rate-limit/redis-token-bucket.ts'
import { MemoryRateLimitStore, type RateLimitStore } from './http/rate-limit/token-bucket.ts'
import type { Config } from './config.ts'
import { IngestService } from './events/ingest-service.ts'
import type { Logger } from './logger.ts'
import { Metrics } from './metrics.ts'
import type { EventQueue } from './queue/event-queue.ts'
import { RedisStreamQueue } from './queue/redis-stream-queue.ts'
import type { EventStore } from './store/event-store.ts'
import { openStore } from './store/open-store.ts'
import { PostgresEventStore } from './store/postgres-event-store.ts'
import type { SqlClient } from './store/sql-client.ts'

export interface Deps {
  config: Config
  log: Logger
  /** the SQL store itself (PostgreSQL or embedded PGlite) */
  db: SqlClient
  store: EventStore
  queue: EventQueue | undefined
  ingest: IngestService
  /** this process's Prometheus registry and metrics */
  metrics: Metrics
  /** present in processes that serve /stats */
  analytics: Analytics | undefined
  authenticator: Authenticator
  /** shared by every API process through Redis when there is one, in memory otherwise */
  rateLimits: RateLimitStore
  close(): Promise<void>
}

/** The composition root: the only place that picks implementations. */
export async function buildDeps(config: Config, log: Logger, options: { analytics: boolean }): Promise<Deps> {
  const db = await openStore(config, log)
  const store = new PostgresEventStore(db)
  const analytics = options.analytics && config.analytics.enabled
    ? await Analytics.open(config.analytics, db, log.child({ component: 'analytics' }))
    : undefined
  const queue = config.useQueue
    ? new RedisStreamQueue({
        url: config.redisUrl!, prefix: config.redisKeyPrefix, maxEvents: config.queue.maxLength, log: log.child({ component: 'queue' }),
      })
    : undefined
  const metrics = new Metrics({ queue, analytics })
  const ingest = new IngestService(store, queue, log.child({ component: 'ingest' }), metrics)
  const authenticator = new Authenticator(new ApiKeyStore(db), config.apiKey)
  // Known from the start, so an outage of the database later cannot leave it unknown.
  await authenticator.isOpen()
  const limiterRedis = config.redisUrl
    ? new Redis(config.redisUrl, { maxRetriesPerRequest: 1, connectTimeout: 5_000, commandTimeout: 1_000 }).on('error', () => {})
    : undefined
  const rateLimits = limiterRedis ? new RedisRateLimitStore(limiterRedis, config.redisKeyPrefix) : new MemoryRateLimitStore()
  return {
    config, log, db, store, queue, ingest, metrics, analytics, authenticator, rateLimits,
    async close() {
      await analytics?.close()
      await queue?.close()
      limiterRedis?.disconnect()
      await store.close()
    },
  }
}
