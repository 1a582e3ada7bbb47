import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import pg from 'pg'
import { createLogger } from '../../src/logger.ts'
import { migrate } from '../../src/store/migrate.ts'

/** A database, a Redis key prefix and a data directory that belong to this run only. */
export interface Sandbox {
  /** undefined in embedded mode: the store is PGlite inside dataDir */
  databaseName: string | undefined
  databaseUrl: string | undefined
  /** true when the database was given with --database: it is never dropped */
  reused: boolean
  redisPrefix: string
  /**
   * The service's DATA_DIR (its DuckDB replica, and PGlite in embedded mode).
   * The default, ./data, would be shared with a developer's own instance, and a
   * replica left there keeps rows from earlier (dropped) bench databases.
   */
  dataDir: string
  /** Drops the database (unless reused), deletes the run's Redis keys and its data directory. */
  destroy(): Promise<void>
}

export interface SandboxOptions {
  embedded: boolean
  /** --database: use this one instead of creating one */
  databaseUrl: string | undefined
  adminDatabaseUrl: string
  redisUrl: string
}

export async function createSandbox(options: SandboxOptions): Promise<Sandbox> {
  const id = randomBytes(4).toString('hex')
  const redisPrefix = `ea:bench:${id}:`
  const dataDir = await mkdtemp(join(tmpdir(), `ea-bench-${id}-`))
  const removeLocal = async () => {
    if (!options.embedded) await deleteRedisKeys(options.redisUrl, redisPrefix)
    await rm(dataDir, { recursive: true, force: true })
  }
  if (options.embedded) {
    return {
      databaseName: undefined,
      databaseUrl: undefined,
      reused: false,
      redisPrefix,
      dataDir,
      destroy: removeLocal,
    }
  }
  const reused = options.databaseUrl !== undefined
  const databaseName = reused ? new URL(options.databaseUrl!).pathname.slice(1) : `ea_bench_${id}`
  const databaseUrl = options.databaseUrl ?? withDatabase(options.adminDatabaseUrl, databaseName)
  // The name is ours (hex only), so interpolating it is safe; identifiers cannot be bound.
  if (!reused)
    await withAdmin(options.adminDatabaseUrl, (c) => c.query(`CREATE DATABASE ${databaseName}`))
  // A reused database may predate a migration; applying pending ones is what the service would do too.
  await migrate({ databaseUrl }, createLogger('warn').child({ component: 'bench-migrate' }))
  return {
    databaseName,
    databaseUrl,
    reused,
    redisPrefix,
    dataDir,
    async destroy() {
      // FORCE ends connections a killed process may have left behind.
      if (!reused)
        await withAdmin(options.adminDatabaseUrl, (c) =>
          c.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`),
        )
      await removeLocal()
    },
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url)
  parsed.pathname = `/${database}`
  return parsed.toString()
}

async function withAdmin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

async function deleteRedisKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    // SCAN, not KEYS: it does not block a Redis that others may be using.
    const stream = redis.scanStream({ match: `${prefix}*`, count: 500 })
    for await (const keys of stream as AsyncIterable<string[]>) {
      if (keys.length > 0) await redis.del(...keys)
    }
  } finally {
    await redis.quit()
  }
}
