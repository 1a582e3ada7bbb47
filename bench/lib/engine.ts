import { join } from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { PGlite } from '@electric-sql/pglite'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'

/**
 * The service's SQL store, opened by the bench itself: PostgreSQL over a pool,
 * or (embedded mode, after the service has stopped and released DATA_DIR) the
 * PGlite files in DATA_DIR. Baselines, plain-SQL timings and the correctness
 * checks go through it, so each mode is compared with its own raw engine.
 */
export interface Engine {
  readonly kind: 'postgresql' | 'pglite'
  /** for messages and tables: PostgreSQL or PGlite */
  readonly label: string
  /** how many statements can truly run at once (1 for PGlite: one WebAssembly instance) */
  readonly connections: number
  query<R>(sql: string, values?: unknown[]): Promise<R[]>
  /** COPY … FROM STDIN in text format; chunks are whole lines */
  copyIn(table: string, columns: readonly string[], chunks: readonly string[]): Promise<void>
  close(): Promise<void>
}

/** `searchPath`: where unqualified names resolve first (a --projects view named events). */
export function openPostgres(
  databaseUrl: string,
  connections: number,
  searchPath?: string,
): Engine {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: connections,
    ...(searchPath === undefined ? {} : { options: `-c search_path=${searchPath}` }),
  })
  // An idle connection that breaks (the server restarted, a DROP … FORCE) must not crash the run with an unhandled 'error'.
  pool.on('error', (err) =>
    console.error(`bench: an idle PostgreSQL connection failed: ${err.message}`),
  )
  return {
    kind: 'postgresql',
    label: 'PostgreSQL',
    connections,
    async query<R>(sql: string, values: unknown[] = []) {
      return (await pool.query(sql, values)).rows as R[]
    },
    async copyIn(table, columns, chunks) {
      const client = await pool.connect()
      try {
        await pipeline(
          Readable.from(chunks),
          client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`)),
        )
      } finally {
        client.release()
      }
    },
    close: () => pool.end(),
  }
}

export async function openPglite(dataDir: string): Promise<Engine> {
  const db = await PGlite.create(join(dataDir, 'pgdata'))
  return {
    kind: 'pglite',
    label: 'PGlite',
    connections: 1,
    async query<R>(sql: string, values: unknown[] = []) {
      return (await db.query<R>(sql, values)).rows
    },
    async copyIn(table, columns, chunks) {
      // PGlite has no COPY FROM STDIN; it reads the data from a blob instead.
      await db.query(`COPY ${table} (${columns.join(', ')}) FROM '/dev/blob'`, [], {
        blob: new Blob([...chunks]),
      })
    },
    close: () => db.close(),
  }
}
