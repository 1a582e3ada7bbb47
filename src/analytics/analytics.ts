import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { PostgresChangeFeed } from '../store/change-feed.ts'
import type { SqlClient } from '../store/sql-client.ts'
import { DuckDbReplica } from './duckdb-replica.ts'
import { AnalyticsSync } from './sync.ts'
import type { SyncWaker } from './sync-waker.ts'

/** The sync as /health reports it: degraded once it has failed for a while or fallen far behind. */
export interface SyncStatus {
  status: 'ok' | 'degraded'
  reasons: string[]
  consecutive_failures: number
  failures_total: number
  failing_since: string | null
  last_error: string | null
  last_error_at: string | null
  lag: SyncLag | { error: string }
}

export interface SyncLag {
  rows_behind: number
  ms_behind: number
  synced_rows: number
  synced_at: string | null
}

/** The replica, the sync that fills it, and what an operator asks of them. */
export class Analytics {
  private constructor(
    readonly replica: DuckDbReplica,
    readonly sync: AnalyticsSync,
    private readonly feed: PostgresChangeFeed,
    private readonly degraded: Config['analytics']['degraded'],
  ) {}

  static async open(
    config: Config['analytics'],
    db: SqlClient,
    log: Logger,
    waker?: SyncWaker,
  ): Promise<Analytics> {
    const replica = await DuckDbReplica.open(config.duckdbPath, config, log)
    const feed = new PostgresChangeFeed(db)
    const sync = new AnalyticsSync(
      replica,
      feed,
      { chunkRows: config.syncChunkRows, idleIntervalMs: config.syncIntervalMs, waker },
      log,
    )
    await sync.init()
    return new Analytics(replica, sync, feed, config.degraded)
  }

  /** Copies everything committed so far into the replica. */
  catchUp(): Promise<number> {
    return this.sync.catchUp()
  }

  async lag(): Promise<SyncLag> {
    const cursor = await this.replica.cursor()
    const behind = await this.feed.lag(cursor)
    return {
      rows_behind: behind.rows,
      ms_behind: behind.ms,
      synced_rows: Number(cursor.syncedRows),
      synced_at: cursor.syncedAt?.toISOString() ?? null,
    }
  }

  syncFailures(): number {
    return this.sync.health.failures.total
  }

  async syncStatus(log: Pick<Logger, 'warn'>): Promise<SyncStatus> {
    const f = this.sync.health.failures
    // The open /health says only that it is unknown; why goes to the log.
    const lag = await this.lag().catch((err: Error) => {
      log.warn({ err }, 'sync lag unknown')
      return { error: 'lag unknown: the database could not be read' }
    })
    const reasons: string[] = []
    if (f.consecutive >= this.degraded.failures)
      reasons.push(`${f.consecutive} sync chunks failed in a row`)
    if (f.failingSince && Date.now() - f.failingSince.getTime() >= this.degraded.failingMs)
      reasons.push(`failing since ${f.failingSince.toISOString()}`)
    if ('ms_behind' in lag && lag.ms_behind >= this.degraded.lagMs)
      reasons.push(`${lag.ms_behind} ms behind the store`)
    return {
      status: reasons.length > 0 ? 'degraded' : 'ok',
      reasons,
      consecutive_failures: f.consecutive,
      failures_total: f.total,
      failing_since: f.failingSince?.toISOString() ?? null,
      last_error: f.lastError,
      last_error_at: f.lastErrorAt?.toISOString() ?? null,
      lag,
    }
  }

  async close(): Promise<void> {
    await this.sync.stop()
    this.replica.close()
  }
}
