import { type DuckDBConnection, listValue } from '@duckdb/node-api'
import { PROPERTY_KEY } from '../stats/segment.ts'

/**
 * Event properties are free-form JSON, but filters and breakdowns read them
 * over millions of rows, and parsing JSON per row per query takes seconds. So
 * the sync gives every property path it meets a number (`property_paths`) and
 * writes each event's property values, one row per (event, path), into
 * `event_props`: the value's text, its JSON type and, for numbers, the number,
 * beside the event's day, user and type. A filter on a property then reads a
 * narrow, typed slice of that table instead of every event's JSON. (Columns
 * per path on `events` were tried first: DuckDB's appends and commits slowed
 * down about 20× with a hundred mostly empty columns.)
 *
 * Past MAX_PROPERTY_PATHS distinct paths (a client using ids as keys, say) new
 * paths are not numbered; a filter on one is answered from the raw JSON that
 * `events` keeps, only slower.
 */

export const NUMBER_TYPES = `('UBIGINT', 'BIGINT', 'DOUBLE')`

/**
 * A path with few distinct values (country, plan) also gets rollups, like
 * event types do: events per (day, path, value, event type) and user bitmaps
 * per (day, path, value) (prop_day_users, replica-schema.ts), so one filter on it answers DAU, retention and a
 * breakdown in milliseconds. A bitmap is 8 KB however few users it holds, so
 * values are few by design: a path that would pass MAX_ROLLUP_VALUES distinct
 * values (amounts, urls) loses its rollups for good, before a chunk would add
 * them, and its filters read event_props.
 */

export const PROPERTY_DDL = [
  `CREATE TABLE IF NOT EXISTS property_paths (
     path VARCHAR PRIMARY KEY,
     id INTEGER NOT NULL UNIQUE,
     rolled_up BOOLEAN NOT NULL
   )`,
  // text is '' for a JSON null (type 'NULL'): key columns cannot be NULL.
  `CREATE TABLE IF NOT EXISTS prop_day_counts (
     day DATE NOT NULL,
     path_id INTEGER NOT NULL,
     type VARCHAR NOT NULL,
     text VARCHAR NOT NULL,
     event_type VARCHAR NOT NULL,
     events BIGINT NOT NULL,
     PRIMARY KEY (day, path_id, type, text, event_type)
   )`,
  `CREATE TABLE IF NOT EXISTS event_props (
     seq BIGINT NOT NULL,
     path_id INTEGER NOT NULL,
     day DATE NOT NULL,
     user_key INTEGER NOT NULL,
     event_type VARCHAR NOT NULL,
     type VARCHAR NOT NULL,
     text VARCHAR,
     number DOUBLE
   )`,
]

/** Which path has which number: kept in memory by the process that owns the replica. */
export class PropertyPaths {
  private readonly ids = new Map<string, number>()
  private readonly notRolledUp = new Set<number>()

  constructor(
    private readonly max: number,
    private readonly maxRollupValues: number,
  ) {}

  get size(): number {
    return this.ids.size
  }

  /** Whether every path met so far has a number, so a path without one is in no event. */
  get complete(): boolean {
    return this.ids.size < this.max
  }

  get(path: string): number | undefined {
    return this.ids.get(path)
  }

  /** Whether the path's rollups hold all of its values. */
  rolledUp(id: number): boolean {
    return !this.notRolledUp.has(id)
  }

  async load(conn: DuckDBConnection): Promise<void> {
    const reader = await conn.runAndReadAll('SELECT path, id, rolled_up FROM property_paths')
    this.ids.clear()
    this.notRolledUp.clear()
    for (const [path, id, rolledUp] of reader.getRows()) {
      this.ids.set(path as string, Number(id))
      if (!rolledUp) this.notRolledUp.add(Number(id))
    }
  }

  /** Of the given rolled-up paths, those that sync_props would take past maxRollupValues. */
  private async overLimit(conn: DuckDBConnection, ids: readonly number[]): Promise<number[]> {
    const candidates = ids.filter((id) => this.rolledUp(id))
    if (candidates.length === 0) return []
    const reader = await conn.runAndReadAll(
      `SELECT path_id FROM (
         SELECT path_id, type, coalesce(text, '') AS text FROM sync_props WHERE list_contains($1::INTEGER[], path_id)
         UNION
         SELECT path_id, type, text FROM prop_day_counts WHERE list_contains($1::INTEGER[], path_id)
       ) GROUP BY path_id HAVING count(*) > $2`,
      [listValue(candidates), this.maxRollupValues],
    )
    return reader.getRows().map((row) => Number(row[0]))
  }

  /**
   * Of the given paths, those whose rollups hold all of their values, after
   * retiring (inside the caller's transaction) any that the chunk in
   * sync_props would take past maxRollupValues, before it is rolled up.
   */
  async keepRollable(conn: DuckDBConnection, ids: readonly number[]): Promise<number[]> {
    for (const id of await this.overLimit(conn, ids)) {
      for (const table of ['prop_day_counts', 'prop_day_users_bitmaps', 'prop_day_users_pending'])
        await conn.run(`DELETE FROM ${table} WHERE path_id = $1`, [id])
      await conn.run('UPDATE property_paths SET rolled_up = false WHERE id = $1', [id])
      this.notRolledUp.add(id)
    }
    return ids.filter((id) => this.rolledUp(id))
  }

  /**
   * The numbers assign() will give `paths`, without giving them: the sync
   * stages a chunk's values under these before its transaction begins.
   */
  plan(paths: Iterable<string>): Array<{ path: string; id: number }> {
    const out: Array<{ path: string; id: number }> = []
    let next = this.ids.size
    for (const path of paths) {
      let id = this.ids.get(path)
      if (id === undefined && next < this.max) id = next++
      if (id !== undefined) out.push({ path, id })
    }
    return out
  }

  /**
   * Numbers each new path (while there is room), inside the caller's
   * transaction; returns the numbered ones among `paths`. The caller calls
   * load() after a rollback, so memory never runs ahead of the file.
   */
  async assign(
    conn: DuckDBConnection,
    paths: Iterable<string>,
  ): Promise<Array<{ path: string; id: number }>> {
    const out: Array<{ path: string; id: number }> = []
    for (const path of paths) {
      let id = this.ids.get(path)
      if (id === undefined && this.ids.size < this.max) {
        id = this.ids.size
        await conn.run('INSERT INTO property_paths VALUES ($1, $2, true)', [path, id])
        this.ids.set(path, id)
      }
      if (id !== undefined) out.push({ path, id })
    }
    return out
  }
}

/**
 * The JSON paths (`$."a"."b"`) of every key in the given json_structure()
 * documents, objects included, so `exists` on an object is answered too.
 * Arrays are values, not descended into. Keys a filter could never name are
 * skipped.
 */
export function pathsOfStructures(structures: Iterable<string>): Set<string> {
  const paths = new Set<string>()
  const walk = (node: unknown, prefix: string) => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return
    for (const [key, child] of Object.entries(node)) {
      if (!PROPERTY_KEY.test(key)) continue
      const path = `${prefix}."${key}"`
      paths.add(path)
      walk(child, path)
    }
  }
  for (const structure of structures) walk(JSON.parse(structure), '$')
  return paths
}
