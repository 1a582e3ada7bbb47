import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createLogger } from '../../src/logger.ts'
import { migrate } from '../../src/store/migrate.ts'
import { ADMIN_DATABASE_URL } from './services.ts'

export interface OldDatabase {
  url: string
  pool: pg.Pool
  drop(): Promise<void>
}

/** A fresh PostgreSQL database with the first `count` migrations only: the schema an older release left. */
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
  await migrate({ databaseUrl: url.toString() }, createLogger('silent'), { count })
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
