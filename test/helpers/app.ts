import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Redis } from 'ioredis'
import { type Config, loadConfig } from '../../src/config.ts'
import { buildDeps, type Deps } from '../../src/deps.ts'
import { createLogger } from '../../src/logger.ts'
import type { RetentionSweeper } from '../../src/retention/retention-sweep.ts'
import { startRole } from '../../src/roles.ts'
import type { Worker } from '../../src/worker/worker.ts'
import { createTestDatabase, type TestDatabase } from './database.ts'
import { TEST_REDIS_URL } from './services.ts'

export interface TestApp {
  app: FastifyInstance
  deps: Deps
  config: Config
  env: Record<string, string>
  worker?: Worker
  retention: RetentionSweeper
  /** rows in the events table of this app's store, whichever it is */
  count(): Promise<number>
  close(): Promise<void>
}

export function uniquePrefix(): string {
  return `ea:test:${randomBytes(5).toString('hex')}:`
}

/**
 * The whole app against real services, started the way main.ts does it but
 * with its own database and Redis key prefix; without a databaseUrl, embedded
 * in a DATA_DIR of its own. `env` is what a child process needs to join the
 * same deployment.
 */
export async function startTestApp(options: {
  databaseUrl?: string
  queue: boolean
  worker?: boolean
  env?: Record<string, string>
  /** the clock the replicas' retention cut moves with */
  now?: () => number
}): Promise<TestApp> {
  const dataDir = options.databaseUrl ? undefined : mkdtempSync(join(tmpdir(), 'ea-embedded-'))
  const env: Record<string, string> = {
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : { DATA_DIR: dataDir! }),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    DUCKDB_PATH: ':memory:',
    // Suites that test rate limiting set their own; the rest must never meet one.
    RATE_LIMIT_REQUESTS: '1000000000',
    ...(options.queue
      ? { REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: uniquePrefix() }
      : { USE_QUEUE: 'false' }),
    ...options.env,
  }
  const config = loadConfig(env)
  const log = createLogger(config.logLevel)
  const deps = await buildDeps(config, log, { analytics: true, now: options.now })
  const running = await startRole(deps, options.worker ? 'all' : 'api', { listen: false })
  const app = running.app!
  return {
    app,
    deps,
    config,
    env,
    worker: running.worker,
    retention: running.retention,
    async count() {
      const { rows } = await deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM events')
      return rows[0]!.n
    },
    async close() {
      await running.stop()
      if (options.queue) await deleteKeys(env.REDIS_KEY_PREFIX!)
      if (dataDir) rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export async function deleteKeys(prefix: string): Promise<void> {
  const redis = new Redis(TEST_REDIS_URL)
  try {
    const keys = await redis.keys(`${prefix}*`)
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}

/** GET `url` from the app, which must answer 200 (else the body is in the failure); the parsed JSON. */
export async function getOk(app: FastifyInstance, url: string) {
  const res = await app.inject({ method: 'GET', url })
  assert.equal(res.statusCode, 200, `${url}: ${res.body}`)
  return res.json()
}

export type ServerTestApp = TestApp & { db: TestDatabase }

/** startTestApp on a PostgreSQL database of its own, dropped when the app closes. */
export async function startServerTestApp(
  options: Omit<Parameters<typeof startTestApp>[0], 'databaseUrl'>,
): Promise<ServerTestApp> {
  const db = await createTestDatabase()
  const t = await startTestApp({ ...options, databaseUrl: db.url }).catch(async (err: unknown) => {
    await db.drop()
    throw err
  })
  return {
    ...t,
    db,
    async close() {
      await t.close()
      await db.drop()
    },
  }
}
