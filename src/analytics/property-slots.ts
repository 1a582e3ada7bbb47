import type { DuckDBConnection } from '@duckdb/node-api'

/**
 * Event properties are free-form JSON, but filters and breakdowns read them
 * over millions of rows: parsing JSON per row per query would take seconds.
 * So the first PROPERTY_SLOTS property paths the replica meets each get a slot
 * of three typed columns in `events`, filled once at sync time:
 *   v<slot> VARCHAR  the value as text (a string unquoted; other values as JSON)
 *   k<slot> VARCHAR  its JSON type as DuckDB's json_type names it, NULL when absent
 *   n<slot> DOUBLE   the number, when it is one
 * A path met after the slots are taken is still answered, from the raw
 * `properties` column, only slower. Slots are fixed columns rather than
 * columns added per path: empty ones cost DuckDB next to nothing, and the
 * table never changes shape under a running sync.
 */
export const PROPERTY_SLOTS = 32

export const NUMBER_TYPES = `('UBIGINT', 'BIGINT', 'DOUBLE')`

export function slotColumnsDdl(): string {
  const columns: string[] = []
  for (let i = 0; i < PROPERTY_SLOTS; i++) columns.push(`v${i} VARCHAR`, `k${i} VARCHAR`, `n${i} DOUBLE`)
  return columns.join(',\n     ')
}

export const PROPERTY_SLOTS_DDL = `CREATE TABLE IF NOT EXISTS property_slots (
     path VARCHAR PRIMARY KEY,
     slot INTEGER NOT NULL UNIQUE
   )`

/** Which path sits in which slot: a few dozen rows, kept in memory by the process that owns the replica. */
export class PropertySlots {
  private readonly byPath = new Map<string, number>()

  get size(): number {
    return this.byPath.size
  }

  get(path: string): number | undefined {
    return this.byPath.get(path)
  }

  async load(conn: DuckDBConnection): Promise<void> {
    const reader = await conn.runAndReadAll('SELECT path, slot FROM property_slots')
    this.byPath.clear()
    for (const [path, slot] of reader.getRows()) this.byPath.set(path as string, Number(slot))
  }

  /**
   * Gives each new path a free slot (while any is left), inside the caller's
   * transaction; returns the slots of all `paths` that have one. The caller
   * calls load() after a rollback, so memory never runs ahead of the file.
   */
  async assign(conn: DuckDBConnection, paths: Iterable<string>): Promise<Array<{ path: string; slot: number }>> {
    const out: Array<{ path: string; slot: number }> = []
    for (const path of paths) {
      let slot = this.byPath.get(path)
      if (slot === undefined && this.byPath.size < PROPERTY_SLOTS) {
        slot = this.byPath.size
        await conn.run('INSERT INTO property_slots VALUES ($1, $2)', [path, slot])
        this.byPath.set(path, slot)
      }
      if (slot !== undefined) out.push({ path, slot })
    }
    return out
  }
}

const KEY = /^[A-Za-z0-9_-]{1,64}$/

/**
 * The JSON paths (`$."a"."b"`) of every key in the given json_structure()
 * documents, objects included, so `exists` on an object works from its slot
 * too. Arrays are values, not descended into. Keys a filter could never name
 * are skipped.
 */
export function pathsOfStructures(structures: Iterable<string>): Set<string> {
  const paths = new Set<string>()
  const walk = (node: unknown, prefix: string) => {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return
    for (const [key, child] of Object.entries(node)) {
      if (!KEY.test(key)) continue
      const path = `${prefix}."${key}"`
      paths.add(path)
      walk(child, path)
    }
  }
  for (const structure of structures) walk(JSON.parse(structure), '$')
  return paths
}

/**
 * The columns and expressions that fill the given slots from `props`, a list
 * of the slots' values extracted in one JSON parse per row.
 */
export function slotFill(slots: ReadonlyArray<{ slot: number }>): { columns: string; values: string } {
  const columns: string[] = []
  const values: string[] = []
  slots.forEach(({ slot }, i) => {
    const item = `props[${i + 1}]`
    columns.push(`v${slot}`, `k${slot}`, `n${slot}`)
    values.push(
      `${item} ->> '$'`,
      `json_type(${item})`,
      `CASE WHEN json_type(${item}) IN ${NUMBER_TYPES} THEN TRY_CAST(${item} ->> '$' AS DOUBLE) END`,
    )
  })
  return { columns: columns.map((c) => `, ${c}`).join(''), values: values.map((v) => `, ${v}`).join('') }
}
