import { Analytics } from './analytics/analytics.ts'
import type { Config } from './config.ts'
import { IngestService } from './events/ingest-service.ts'
import type { Logger } from './logger.ts'
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
  /** present in processes that serve /stats */
  analytics: Analytics | undefined
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
  const ingest = new IngestService(store, queue, log.child({ component: 'ingest' }))
  return {
    config, log, db, store, queue, ingest, analytics,
    async close() {
      await analytics?.close()
      await queue?.close()
      await store.close()
    },
  }
}
