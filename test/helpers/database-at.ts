import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { runner } from 'node-pg-migrate'
import pg from 'pg'
import { ADMIN_DATABASE_URL } from './services.ts'

const MIGRATIONS_DIR = fileURLToPath(new URL('../../src/store/migrations', import.meta.url))

export interface OldDatabase {
  url: string
  pool: pg.Pool
  drop(): Promise<void>
}

/**
 * A fresh database migrated with the first `count` migrations only: the
 * schema an older release left, for upgrade tests. (node-pg-migrate's runner
 * directly: src/store/migrate.ts always applies every migration.)
 */
export async function createDatabaseAt(count: number): Promise<OldDatabase> {
  const base = new URL(ADMIN_DATABASE_URL)
  const name =
    `${base.pathname.slice(1) || 'postgres'}_u${randomBytes(5).toString('hex')}`.toLowerCase()
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end()
  }
  const url = new URL(ADMIN_DATABASE_URL)
  url.pathname = `/${name}`
  const silent = () => {}
  await runner({
    databaseUrl: url.toString(),
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count,
    logger: { debug: silent, info: silent, warn: silent, error: silent },
  })
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 })
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end()
      const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
      await c.connect()
      try {
        // As database.ts: closed pools' sockets may still be saying goodbye; force only as a last resort.
        for (let i = 0; i < 40; i++) {
          try {
            await c.query(`DROP DATABASE IF EXISTS "${name}"`)
            return
          } catch (err) {
            if ((err as { code?: string }).code !== '55006') throw err
            await new Promise((r) => setTimeout(r, 50))
          }
        }
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
      } finally {
        await c.end()
      }
    },
  }
}
