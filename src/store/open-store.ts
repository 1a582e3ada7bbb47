import { mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { lockDataDir } from './data-dir-lock.ts'
import { migrate } from './migrate.ts'
import { createPool } from './postgres-event-store.ts'
import { pgliteClient, poolClient, type SqlClient } from './sql-client.ts'
import { checkStoreOrigin } from './store-origin.ts'

export { DataDirLockedError } from './data-dir-lock.ts'

/**
 * The SQL store the configuration asks for, migrated: PostgreSQL when
 * DATABASE_URL is set, otherwise PGlite in DATA_DIR, owned by this process.
 */
export async function openStore(config: Config, log: Logger): Promise<SqlClient> {
  if (config.databaseUrl) {
    const applied = await migrate(
      { databaseUrl: config.databaseUrl },
      log.child({ component: 'migrate' }),
    )
    if (applied.length > 0) log.info({ migrations: applied }, 'migrations applied')
    const pool = createPool(
      {
        url: config.databaseUrl,
        poolSize: config.db.poolSize,
        queryTimeoutMs: config.db.queryTimeoutMs,
      },
      log.child({ component: 'postgres' }),
    )
    const client = poolClient(pool)
    await checkOrClose(client, log)
    return client
  }
  return openEmbedded(config.dataDir, log)
}

async function openEmbedded(dataDir: string, log: Logger): Promise<SqlClient> {
  // Loaded only here: through tsx's loader hooks PGlite alone took ~130 ms of
  // every server-mode start (the import CLI's included), which never uses it.
  const { PGlite } = await import('@electric-sql/pglite')
  const dir = resolve(dataDir)
  mkdirSync(dir, { recursive: true })
  // Two processes writing one data directory would corrupt it: the second refuses to start.
  const release = lockDataDir(join(dir, 'service.lock'), dir)
  const started = performance.now()
  let db
  try {
    db = await PGlite.create(join(dir, 'pgdata'))
  } catch (err) {
    release()
    throw err
  }
  const applied = await migrate({ pglite: db }, log.child({ component: 'migrate' }))
  log.info(
    { dataDir: dir, migrations: applied, openMs: Math.round(performance.now() - started) },
    'embedded store open',
  )
  const client = pgliteClient(db)
  await checkOrClose(client, log).catch((err: unknown) => {
    release()
    throw err
  })
  return {
    ...client,
    async end() {
      await client.end()
      release()
    },
  }
}

/** After the migrations (009 adds what it reads): a restored store is re-keyed before anything reads it. */
async function checkOrClose(client: SqlClient, log: Logger): Promise<void> {
  try {
    await checkStoreOrigin(client, log.child({ component: 'store-origin' }))
  } catch (err) {
    await client.end().catch(() => {})
    throw err
  }
}
