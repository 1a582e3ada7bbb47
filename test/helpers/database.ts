import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { createLogger } from '../../src/logger.ts'
import { migrate } from '../../src/store/migrate.ts'
import { ADMIN_DATABASE_URL } from './services.ts'

export interface TestDatabase {
  url: string
  name: string
  /** a small pool for assertions */
  pool: pg.Pool
  count(): Promise<number>
  drop(): Promise<void>
}

/** A fresh, migrated database of its own for one suite, so suites never see each other's rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const base = new URL(ADMIN_DATABASE_URL)
  const name =
    `${base.pathname.slice(1) || 'postgres'}_t${randomBytes(5).toString('hex')}`.toLowerCase()
  const admin = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
  await admin.connect()
  try {
    await admin.query(`CREATE DATABASE "${name}"`)
  } finally {
    await admin.end()
  }
  const url = new URL(ADMIN_DATABASE_URL)
  url.pathname = `/${name}`
  await migrate({ databaseUrl: url.toString() }, createLogger('silent'))
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 })
  return {
    url: url.toString(),
    name,
    pool,
    async count() {
      const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM events')
      return Number(rows[0]!.n)
    },
    async drop() {
      await pool.end()
      const c = new pg.Client({ connectionString: ADMIN_DATABASE_URL })
      await c.connect()
      try {
        // pg's pool.end() resolves before its sockets have closed; forcing the
        // drop at once would kill those sessions mid-goodbye and raise errors
        // nobody listens to. Give them a moment, and force only as a last resort.
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
