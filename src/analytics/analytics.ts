import { WarningsStore } from '../compat/warnings-store.ts'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { DEFAULT_PROJECT_ID, type ProjectStore } from '../projects/project-store.ts'
import { PostgresChangeFeed } from '../store/change-feed.ts'
import type { SqlClient } from '../store/sql-client.ts'
import { type DuckDbReplica, ReplicaDatabase } from './duckdb-replica.ts'
import type { IdentityWarning } from './identity-merge.ts'
import type { RetentionCuts } from './retention-cut.ts'
import { AnalyticsSync } from './sync.ts'
import type { SyncFailures } from './sync-health.ts'
import { SyncWaker } from './sync-waker.ts'

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

interface ProjectAnalytics {
  replica: DuckDbReplica
  sync: AnalyticsSync
  feed: PostgresChangeFeed
  waker: SyncWaker
}

// How often the process looks for projects created or deleted by another
// process (the CLI); a request for a project it does not know looks at once.
const RECONCILE_MS = 5_000

/**
 * Each project's replica and the sync that fills it, in one replica file,
 * and what an operator asks of them. The projects follow the store's: a new
 * one gets its replica, a deleted one's is dropped.
 */
export class Analytics {
  private readonly projects = new Map<number, ProjectAnalytics>()
  private started = false
  private timer: NodeJS.Timeout | undefined
  private reconciling: Promise<void> | undefined
  private readonly warnings: WarningsStore

  private constructor(
    readonly database: ReplicaDatabase,
    private readonly db: SqlClient,
    private readonly projectStore: ProjectStore,
    private readonly config: Config['analytics'],
    private readonly log: Logger,
    private readonly waker: SyncWaker,
    private readonly retention: RetentionCuts | undefined,
  ) {
    this.warnings = new WarningsStore(db)
  }

  static async open(
    config: Config['analytics'],
    db: SqlClient,
    projects: ProjectStore,
    log: Logger,
    waker = new SyncWaker(),
    /** each project's retention cut; without it the replicas keep everything */
    retention?: RetentionCuts,
  ): Promise<Analytics> {
    const database = await ReplicaDatabase.open(config.duckdbPath, config, log)
    const analytics = new Analytics(database, db, projects, config, log, waker, retention)
    await analytics.reconcile()
    return analytics
  }

  /** The default project's replica (tools and tests of one project). */
  get replica(): DuckDbReplica {
    return this.get(DEFAULT_PROJECT_ID).replica
  }

  /** A project's replica; a project this process has not seen yet is looked for first. */
  async replicaOf(project: number): Promise<DuckDbReplica> {
    if (!this.projects.has(project)) await this.reconcile()
    return this.get(project).replica
  }

  private get(project: number): ProjectAnalytics {
    const p = this.projects.get(project)
    if (!p) throw new Error(`no analytics for project ${project}`)
    return p
  }

  /** Starts every project's sync, and keeps following the store's projects. */
  start(): void {
    this.started = true
    for (const p of this.projects.values()) p.sync.start()
    this.timer ??= setInterval(() => {
      this.reconcile().catch((err: Error) =>
        this.log.warn({ err }, 'could not read the projects; trying again'),
      )
    }, RECONCILE_MS)
    this.timer.unref()
  }

  /** Opens the replicas of the store's projects and drops those of projects that are gone. */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileNow().finally(() => {
      this.reconciling = undefined
    })
    return this.reconciling
  }

  private async reconcileNow(): Promise<void> {
    const ids = new Set((await this.projectStore.list()).map((p) => p.id))
    for (const id of ids) if (!this.projects.has(id)) await this.add(id)
    const known = new Set([...this.projects.keys(), ...(await this.database.projectsOnFile())])
    for (const id of known) if (!ids.has(id)) await this.remove(id)
  }

  private async add(project: number): Promise<void> {
    const replica = await this.database.project(project)
    const feed = new PostgresChangeFeed(this.db, project)
    const waker = this.waker.child()
    const sync = new AnalyticsSync(
      replica,
      feed,
      {
        chunkRows: this.config.syncChunkRows,
        idleIntervalMs: this.config.syncIntervalMs,
        waker,
        identityWarnings: (warnings) => this.warnings.add(project, warnings.map(asWarning)),
        retentionCut: this.retention && (() => this.retention!.of(project)),
      },
      this.log.child({ project }),
    )
    await sync.init()
    this.projects.set(project, { replica, sync, feed, waker })
    if (this.started) sync.start()
  }

  private async remove(project: number): Promise<void> {
    const p = this.projects.get(project)
    this.projects.delete(project)
    if (p) {
      this.waker.forget(p.waker)
      await p.sync.stop()
    }
    await this.database.dropProject(project)
    this.log.info({ project }, 'project deleted; its replica is dropped')
  }

  /** Copies everything committed so far, in every project, into the replicas. Returns the rows read. */
  async catchUp(): Promise<number> {
    await this.reconcile()
    let rows = 0
    for (const p of this.projects.values()) rows += await p.sync.catchUp()
    return rows
  }

  /** Folds every project's pending user rows into its bitmaps. */
  async fold(): Promise<void> {
    for (const p of this.projects.values()) await p.sync.fold()
  }

  /** Empties every project's replica; the syncs then refill them. */
  async reset(): Promise<void> {
    for (const p of this.projects.values()) {
      // Between two chunks of a running sync, never in the middle of one.
      await p.replica.database.serialise(async () => {
        await p.replica.reset()
        await p.sync.init()
      })
    }
  }

  /** One project's lag. */
  async lagOf(project: number): Promise<SyncLag> {
    const { replica, feed } = this.get(project)
    const cursor = await replica.cursor()
    const behind = await feed.lag(cursor)
    return {
      rows_behind: behind.rows,
      ms_behind: behind.ms,
      synced_rows: Number(cursor.syncedRows),
      synced_at: cursor.syncedAt?.toISOString() ?? null,
    }
  }

  /** The service's lag: rows behind and synced summed over projects, the oldest row behind, the latest sync. */
  async lag(): Promise<SyncLag> {
    const lags = await Promise.all([...this.projects.keys()].map((id) => this.lagOf(id)))
    const at = lags.flatMap((l) => (l.synced_at ? [l.synced_at] : [])).sort()
    return {
      rows_behind: lags.reduce((n, l) => n + l.rows_behind, 0),
      ms_behind: Math.max(0, ...lags.map((l) => l.ms_behind)),
      synced_rows: lags.reduce((n, l) => n + l.synced_rows, 0),
      synced_at: at[at.length - 1] ?? null,
    }
  }

  syncFailures(): number {
    let total = 0
    for (const p of this.projects.values()) total += p.sync.health.failures.total
    return total
  }

  /** The syncs as /health reports them: degraded when any project's is. */
  async syncStatus(log: Pick<Logger, 'warn'>): Promise<SyncStatus> {
    // The open /health says only that it is unknown; why goes to the log.
    const lag = await this.lag().catch((err: Error) => {
      log.warn({ err }, 'sync lag unknown')
      return { error: 'lag unknown: the database could not be read' }
    })
    const reasons: string[] = []
    let worst: SyncFailures | undefined
    let total = 0
    for (const p of this.projects.values()) {
      const f = p.sync.health.failures
      total += f.total
      if (!worst || f.consecutive > worst.consecutive) worst = f
      if (f.consecutive >= this.config.degraded.failures)
        reasons.push(`${f.consecutive} sync chunks failed in a row`)
      if (f.failingSince && Date.now() - f.failingSince.getTime() >= this.config.degraded.failingMs)
        reasons.push(`failing since ${f.failingSince.toISOString()}`)
    }
    if ('ms_behind' in lag && lag.ms_behind >= this.config.degraded.lagMs)
      reasons.push(`${lag.ms_behind} ms behind the store`)
    return {
      status: reasons.length > 0 ? 'degraded' : 'ok',
      reasons,
      consecutive_failures: worst?.consecutive ?? 0,
      failures_total: total,
      failing_since: worst?.failingSince?.toISOString() ?? null,
      last_error: worst?.lastError ?? null,
      last_error_at: worst?.lastErrorAt?.toISOString() ?? null,
      lag,
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    await this.reconciling?.catch(() => {})
    for (const p of this.projects.values()) await p.sync.stop()
    this.database.close()
  }
}

/** An identity call that was kept but not applied, as GET /events/warnings lists it. */
function asWarning(w: IdentityWarning) {
  return {
    message_id: w.message_id,
    source: w.source,
    request_id: 'identity-merge',
    index: 0,
    reason: w.reason,
    errors: [{ field: w.field, message: w.message }],
    message: w.call,
  }
}
