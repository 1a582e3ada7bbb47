import { AppError } from '../errors.ts'
import type { SqlClient } from '../store/sql-client.ts'

export interface Project {
  id: number
  name: string
  /** events accepted per UTC day; null: no quota */
  events_per_day: number | null
  created_at: string
  /** page origins browsers may send events from (`https://shop.example`); null: any origin */
  allowed_origins: string[] | null
  /** visitors keep an anonymous id in localStorage, instead of the daily salted hash (cookieless) */
  persistent_visitor_id: boolean
  /** a page's Global Privacy Control signal means its events are not recorded */
  honor_gpc: boolean
  /** days of events kept (src/retention/cutoff.ts); null: the service's RETENTION_DAYS */
  retention_days: number | null
}

/** The browser settings of a project (`npm run projects -- origins|visitor-id|gpc`). */
export type WebSettings = Partial<
  Pick<Project, 'allowed_origins' | 'persistent_visitor_id' | 'honor_gpc'>
>

/** The project everything belonged to before projects existed, and where keyless events go. */
export const DEFAULT_PROJECT_ID = 1

/** What a project's name may be (the migration checks the same): it appears in URLs and file names. */
export const PROJECT_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/

const COLUMNS =
  'id, name, events_per_day::float8 AS events_per_day, created_at::text AS created_at,' +
  ' allowed_origins, persistent_visitor_id, honor_gpc, retention_days'

// Projects change rarely and are read on every request: the list is kept this
// long in each process. A name not in it is looked up at once, so a project
// created by the CLI works from its first request; a deleted or renamed one
// can still be named for up to this long.
const CACHE_MS = 5_000

export class ProjectNameError extends AppError {
  constructor(name: string) {
    super(
      422,
      'INVALID_PROJECT_NAME',
      `project name "${name}" must be 1 to 63 characters: lower-case letters, digits, "-" and "_", starting with a letter or digit`,
    )
  }
}

/** Projects in the event store's database. */
export class ProjectStore {
  private cached: { at: number; projects: Project[] } | undefined

  constructor(
    private readonly db: SqlClient,
    private readonly now: () => number = Date.now,
  ) {}

  async list(): Promise<Project[]> {
    const { rows } = await this.db.query<Project>(`SELECT ${COLUMNS} FROM projects ORDER BY id`)
    this.cached = { at: this.now(), projects: rows }
    return rows
  }

  /** The projects as this process last read them, at most CACHE_MS ago. */
  async known(): Promise<Project[]> {
    const c = this.cached
    if (c && this.now() - c.at <= CACHE_MS) return c.projects
    return this.list()
  }

  /** The project of this name; a name this process does not know yet is looked up in the store. */
  async byName(name: string): Promise<Project | undefined> {
    const hit = (await this.known()).find((p) => p.name === name)
    if (hit) return hit
    return (await this.list()).find((p) => p.name === name)
  }

  async byId(id: number): Promise<Project | undefined> {
    const hit = (await this.known()).find((p) => p.id === id)
    if (hit) return hit
    return (await this.list()).find((p) => p.id === id)
  }

  async create(name: string, options: { eventsPerDay?: number | null } = {}): Promise<Project> {
    if (!PROJECT_NAME.test(name)) throw new ProjectNameError(name)
    const { rows } = await this.db.query<Project>(
      `INSERT INTO projects (name, events_per_day) VALUES ($1, $2)
       ON CONFLICT (name) DO NOTHING RETURNING ${COLUMNS}`,
      [name, options.eventsPerDay ?? null],
    )
    this.cached = undefined
    if (!rows[0]) throw new AppError(409, 'PROJECT_EXISTS', `project "${name}" exists already`)
    // Its table of events (migration 011); writers would make it with their first batch.
    await this.db.query(
      'SELECT ensure_event_partitions(ARRAY[$1::int], ARRAY[NULL::timestamptz], NULL)',
      [rows[0].id],
    )
    return rows[0]
  }

  async rename(from: string, to: string): Promise<Project> {
    if (!PROJECT_NAME.test(to)) throw new ProjectNameError(to)
    const taken = await this.byName(to)
    if (taken) throw new AppError(409, 'PROJECT_EXISTS', `project "${to}" exists already`)
    const { rows } = await this.db.query<Project>(
      `UPDATE projects SET name = $2 WHERE name = $1 RETURNING ${COLUMNS}`,
      [from, to],
    )
    this.cached = undefined
    if (!rows[0]) throw unknownProject(from)
    return rows[0]
  }

  /** Sets or clears (null) a project's events/day quota. */
  async setQuota(name: string, eventsPerDay: number | null): Promise<Project> {
    const { rows } = await this.db.query<Project>(
      `UPDATE projects SET events_per_day = $2 WHERE name = $1 RETURNING ${COLUMNS}`,
      [name, eventsPerDay],
    )
    this.cached = undefined
    if (!rows[0]) throw unknownProject(name)
    return rows[0]
  }

  /** Sets or clears (null: the service's RETENTION_DAYS) how many days of events a project keeps. */
  async setRetention(name: string, days: number | null): Promise<Project> {
    const { rows } = await this.db.query<Project>(
      `UPDATE projects SET retention_days = $2 WHERE name = $1 RETURNING ${COLUMNS}`,
      [name, days],
    )
    this.cached = undefined
    if (!rows[0]) throw unknownProject(name)
    return rows[0]
  }

  /** Changes the browser settings given; those not given stay as they are. */
  async setWeb(name: string, settings: WebSettings): Promise<Project> {
    const { rows } = await this.db.query<Project>(
      `UPDATE projects SET
         allowed_origins = CASE WHEN $2 THEN $3::text[] ELSE allowed_origins END,
         persistent_visitor_id = COALESCE($4, persistent_visitor_id),
         honor_gpc = COALESCE($5, honor_gpc)
       WHERE name = $1 RETURNING ${COLUMNS}`,
      [
        name,
        settings.allowed_origins !== undefined,
        settings.allowed_origins ?? null,
        settings.persistent_visitor_id ?? null,
        settings.honor_gpc ?? null,
      ],
    )
    this.cached = undefined
    if (!rows[0]) throw unknownProject(name)
    return rows[0]
  }

  /** The project of this name, if it may be deleted: any but the default one. */
  async deletable(name: string): Promise<Project> {
    const project = await this.byName(name)
    if (!project) throw unknownProject(name)
    if (project.id === DEFAULT_PROJECT_ID)
      throw new AppError(
        409,
        'DEFAULT_PROJECT',
        `project "${name}" is the default project, where events sent without a key go; it can be renamed, not deleted`,
      )
    return project
  }

  /** The project's stored events, counted on its (project_id, xact_id, seq) index. */
  async eventCount(id: number): Promise<number> {
    const { rows } = await this.db.query<{ events: number }>(
      'SELECT count(*)::float8 AS events FROM events WHERE project_id = $1',
      [id],
    )
    return rows[0]!.events
  }

  /**
   * Removes a project and everything of it in the store: its events, keys and
   * Idempotency-Keys, in one transaction. The replica drops the project's
   * schema when it next looks at the projects (ProjectReplicas).
   */
  async delete(name: string): Promise<{ project: Project; events: number }> {
    const project = await this.deletable(name)
    const { rows } = await this.db.query<{ events: number }>(
      `WITH gone AS (DELETE FROM projects WHERE id = $1 RETURNING id, name),
       tomb AS (INSERT INTO deleted_projects (id, name) SELECT id, name FROM gone),
       keys AS (DELETE FROM api_keys WHERE project_id IN (SELECT id FROM gone)),
       idem AS (DELETE FROM idempotency_keys WHERE project_id IN (SELECT id FROM gone)),
       event_keys AS (DELETE FROM event_keys WHERE project_id IN (SELECT id FROM gone)),
       events AS (DELETE FROM events WHERE project_id IN (SELECT id FROM gone) RETURNING 1)
       SELECT count(*)::float8 AS events FROM events`,
      [project.id],
    )
    this.cached = undefined
    return { project, events: rows[0]!.events }
  }
}

/**
 * Removes events of deleted projects stored after the delete (entries still
 * queued then, or sent with a key a process still had cached): one indexed
 * delete per deleted project, of nothing at all almost always.
 */
export async function sweepDeleted(db: SqlClient): Promise<number> {
  const { rows } = await db.query<{ events: number }>(
    `WITH keys AS (DELETE FROM event_keys WHERE project_id IN (SELECT id FROM deleted_projects)),
     events AS (DELETE FROM events WHERE project_id IN (SELECT id FROM deleted_projects) RETURNING 1)
     SELECT count(*)::int AS events FROM events`,
  )
  return rows[0]!.events
}

export function unknownProject(name: string): AppError {
  return new AppError(404, 'PROJECT_NOT_FOUND', `there is no project "${name}"`)
}
