import type { PGlite } from '@electric-sql/pglite'
import type pg from 'pg'

export interface SqlResult<R> {
  rows: R[]
  rowCount: number
}

/**
 * The little the store, the change feed and the migrations need from a
 * PostgreSQL connection: a server's pool and the embedded PGlite both provide
 * it, with the same SQL and the same bound parameters.
 */
export interface SqlClient {
  /** `server` for PostgreSQL over the network, `embedded` for PGlite in DATA_DIR */
  readonly kind: 'server' | 'embedded'
  query<R>(text: string, values?: unknown[], options?: { rowMode?: 'array' }): Promise<SqlResult<R>>
  /** A server's pooled connection of its own, which COPY needs; PGlite has none. Release it. */
  connect?(): Promise<pg.PoolClient>
  /** the bound on each query, which a COPY must enforce itself */
  readonly queryTimeoutMs?: number
  end(): Promise<void>
}

export function poolClient(pool: pg.Pool): SqlClient {
  return {
    kind: 'server',
    async query<R>(text: string, values: unknown[] = [], options: { rowMode?: 'array' } = {}) {
      const result = await pool.query({
        text,
        values,
        ...(options.rowMode ? { rowMode: options.rowMode } : {}),
      })
      return { rows: result.rows as R[], rowCount: result.rowCount ?? 0 }
    },
    connect: () => pool.connect(),
    queryTimeoutMs: (pool.options as { query_timeout?: number }).query_timeout,
    end: () => pool.end(),
  }
}

export function pgliteClient(db: PGlite): SqlClient {
  return {
    kind: 'embedded',
    async query<R>(text: string, values: unknown[] = [], options: { rowMode?: 'array' } = {}) {
      const result = await db.query<R>(
        text,
        values,
        options.rowMode ? { rowMode: options.rowMode } : {},
      )
      return { rows: result.rows, rowCount: result.affectedRows ?? result.rows.length }
    },
    end: () => db.close(),
  }
}

/**
 * node-pg-migrate drives an external client through `query(text | {text, values})`.
 * Migration files hold several statements, which only PGlite's exec runs.
 */
export function pgliteMigrationClient(db: PGlite): {
  query(
    q: string | { text: string; values?: unknown[] },
    values?: unknown[],
  ): Promise<SqlResult<unknown>>
} {
  return {
    async query(q, values) {
      const text = typeof q === 'string' ? q : q.text
      const params = values ?? (typeof q === 'string' ? undefined : q.values)
      if (params && params.length > 0) {
        const r = await db.query(text, params)
        return { rows: r.rows, rowCount: r.affectedRows ?? r.rows.length }
      }
      const results = await db.exec(text)
      const last = results[results.length - 1]
      return { rows: last?.rows ?? [], rowCount: last?.affectedRows ?? 0 }
    },
  }
}
