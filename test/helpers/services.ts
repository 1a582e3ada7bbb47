import net from 'node:net'
import { Redis } from 'ioredis'
import pg from 'pg'

// Tests may read the environment: they are the harness, not the product.
export const ADMIN_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379'
const IN_CI = process.env.CI === 'true'

let availability: Promise<{ postgres?: string; redis?: string }> | undefined

/** Why each server is unusable, if it is; checked once per test process. */
function unavailable(): Promise<{ postgres?: string; redis?: string }> {
  availability ??= (async () => {
    const out: { postgres?: string; redis?: string } = {}
    const client = new pg.Client({
      connectionString: ADMIN_DATABASE_URL,
      connectionTimeoutMillis: 2_000,
    })
    try {
      await client.connect()
      await client.query('SELECT 1')
    } catch (err) {
      out.postgres = `PostgreSQL at ${ADMIN_DATABASE_URL} is not reachable (${(err as Error).message})`
    } finally {
      await client.end().catch(() => {})
    }
    const redis = new Redis(TEST_REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
      retryStrategy: () => null,
    })
    try {
      await redis.connect()
      await redis.ping()
    } catch (err) {
      out.redis = `Redis at ${TEST_REDIS_URL} is not reachable (${(err as Error).message})`
    } finally {
      redis.disconnect()
    }
    return out
  })()
  return availability
}

/**
 * The `skip` option for a suite that needs real servers: a reason when one is
 * missing (printed by the runner), false otherwise. With CI=true a missing
 * server fails the run instead.
 */
export async function skipUnless(...needs: Array<'postgres' | 'redis'>): Promise<string | false> {
  const missing = await unavailable()
  const reasons = needs.map((n) => missing[n]).filter((r): r is string => r !== undefined)
  if (reasons.length === 0) return false
  const reason = `skipped: ${reasons.join('; ')}`
  if (IN_CI) throw new Error(`CI=true and a server suite cannot run: ${reason}`)
  return reason
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on('error', reject)
  })
}
