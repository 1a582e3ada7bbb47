import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { PostgresChangeFeed } from '../store/change-feed.ts'
import type { SqlClient } from '../store/sql-client.ts'
import { DuckDbReplica } from './duckdb-replica.ts'
import { AnalyticsSync } from './sync.ts'

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
  ) {}

  static async open(config: Config['analytics'], db: SqlClient, log: Logger): Promise<Analytics> {
    const replica = await DuckDbReplica.open(config.duckdbPath, config, log)
    const feed = new PostgresChangeFeed(db)
    const sync = new AnalyticsSync(replica, feed, { chunkRows: config.syncChunkRows, idleIntervalMs: config.syncIntervalMs }, log)
    await sync.init()
    return new Analytics(replica, sync, feed)
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

  async close(): Promise<void> {
    await this.sync.stop()
    this.replica.close()
  }
}
