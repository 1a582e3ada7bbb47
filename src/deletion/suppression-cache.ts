import type { Logger } from '../logger.ts'
import type { SqlClient } from '../store/sql-client.ts'

/** What intake asks before it takes an event. */
export interface SuppressionCheck {
  isSuppressed(project: number, userId: string): boolean
}

/**
 * The suppressed ids in memory, so intake checks them without a query. This
 * process reloads at once after its own change (invalidate); another
 * process's change is seen within refreshMs plus a query (one number is
 * compared each time, the table is read only when it changed). Intake may
 * therefore take an event of an id suppressed elsewhere a moment ago: the
 * writer's insert checks the table itself, and stores none.
 */
export class SuppressionCache implements SuppressionCheck {
  private ids = new Map<number, Set<string>>()
  private version: string | undefined
  private timer: NodeJS.Timeout | undefined
  private loading: Promise<void> | undefined

  constructor(
    private readonly db: SqlClient,
    private readonly refreshMs: number,
    private readonly log: Logger,
  ) {}

  isSuppressed(project: number, userId: string): boolean {
    return this.ids.get(project)?.has(userId) ?? false
  }

  /** Loads the set and keeps it fresh. */
  async start(): Promise<void> {
    await this.refresh()
    this.timer ??= setInterval(() => {
      this.refresh().catch((err: Error) =>
        this.log.warn({ err }, 'could not refresh the suppressed ids; keeping the last ones'),
      )
    }, this.refreshMs)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Reloads now: this process changed the suppressions. */
  async invalidate(): Promise<void> {
    // A load already under way may have read the table before the change.
    await this.loading?.catch(() => {})
    this.version = undefined
    await this.refresh()
  }

  refresh(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined
    })
    return this.loading
  }

  private async load(): Promise<void> {
    const { rows: v } = await this.db.query<{ version: string }>(
      'SELECT version::text FROM suppressions_version',
    )
    const version = v[0]?.version
    if (version !== undefined && version === this.version) return
    const { rows } = await this.db.query<{ project_id: number; user_id: string }>(
      'SELECT project_id, user_id FROM suppressions',
    )
    const ids = new Map<number, Set<string>>()
    for (const r of rows) {
      const set = ids.get(r.project_id)
      if (set) set.add(r.user_id)
      else ids.set(r.project_id, new Set([r.user_id]))
    }
    this.ids = ids
    this.version = version
  }
}
