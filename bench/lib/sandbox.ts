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
  databaseName: string
  databaseUrl: string
  redisPrefix: string
  /**
   * The service's DATA_DIR (its DuckDB replica). The default, ./data, would be
   * shared with a developer's own instance, and a replica left there keeps
   * rows from earlier (dropped) bench databases.
   */
  dataDir: string
  /** Drops the database, deletes the run's Redis keys and its data directory. */
  destroy(): Promise<void>
}

export async function createSandbox(adminDatabaseUrl: string, redisUrl: string): Promise<Sandbox> {
  const id = randomBytes(4).toString('hex')
  const databaseName = `ea_bench_${id}`
  const databaseUrl = withDatabase(adminDatabaseUrl, databaseName)
  const redisPrefix = `ea:bench:${id}:`
  const dataDir = await mkdtemp(join(tmpdir(), `ea-bench-${id}-`))
  // The name is ours (hex only), so interpolating it is safe; identifiers cannot be bound.
  await withAdmin(adminDatabaseUrl, (c) => c.query(`CREATE DATABASE ${databaseName}`))
  await migrate({ databaseUrl }, createLogger('warn').child({ component: 'bench-migrate' }))
  return {
    databaseName,
    databaseUrl,
    redisPrefix,
    dataDir,
    async destroy() {
      // FORCE ends connections a killed process may have left behind.
      await withAdmin(adminDatabaseUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`))
      await deleteRedisKeys(redisUrl, redisPrefix)
      await rm(dataDir, { recursive: true, force: true })
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
