import { ReplicaLockedError } from './analytics/duckdb-replica.ts'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig } from './config.ts'
import { buildDeps } from './deps.ts'
import { createLogger } from './logger.ts'
import { DataDirLockedError } from './store/open-store.ts'
import { Worker } from './worker/worker.ts'

// Roles: `all` (API and worker in one process, the default), `api`, `worker`.
// Several of each may run against the same PostgreSQL and Redis.
type Role = 'all' | 'api' | 'worker'

async function main(): Promise<void> {
  const role = (process.argv[2] ?? 'all') as Role
  if (!['all', 'api', 'worker'].includes(role)) {
    console.error(`unknown role "${role}": use all, api or worker`)
    process.exit(2)
  }
  let config
  try {
    config = loadConfig(process.env, { dotenv: true })
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message)
      process.exit(1)
    }
    throw err
  }
  const log = createLogger(config.logLevel).child({ role })
  let deps
  try {
    deps = await buildDeps(config, log, { analytics: role !== 'worker' })
  } catch (err) {
    if (err instanceof ReplicaLockedError) {
      log.fatal(`${err.message}, or set ANALYTICS_ENABLED=false for an API process that does not serve /stats`)
      process.exit(1)
    }
    if (err instanceof DataDirLockedError) {
      log.fatal(err.message)
      process.exit(1)
    }
    throw err
  }

  if (role === 'worker' && !deps.queue) {
    log.fatal('the worker role needs the queue: set REDIS_URL (and USE_QUEUE unset or true)')
    process.exit(1)
  }
  const worker = role !== 'api' && deps.queue
    ? new Worker(deps.queue, deps.store, config.worker, log.child({ component: 'worker' }), deps.metrics)
    : undefined
  const app = role !== 'worker' ? await buildApp(deps) : undefined

  if (app && (await deps.authenticator.isOpen())) {
    log.warn(
      'NO API KEYS ARE CONFIGURED: anyone who can reach this port can write and read events. ' +
        'Create one with `npm run keys -- create --scope admin` or set API_KEY.',
    )
  }
  worker?.start()
  deps.analytics?.sync.start()
  if (app) {
    await app.listen({ port: config.port, host: config.host })
    log.info({ mode: deps.queue ? 'queue' : 'direct' }, 'api ready')
  }

  let shuttingDown = false
  const shutdown = async (signal: string) => {
    if (shuttingDown) return
    shuttingDown = true
    log.info({ signal }, 'shutting down')
    const forced = setTimeout(() => {
      log.error('shutdown timed out; exiting')
      process.exit(1)
    }, config.shutdownTimeoutMs)
    forced.unref()
    try {
      // Stop taking requests first (in-flight ones finish), then let the worker
      // finish or hand back its batch, then close the pools.
      if (app) {
        // In-flight requests finish; clients that keep a busy keep-alive
        // connection (each answered 503 while closing) are cut off after a grace period.
        const closing = app.close()
        const grace = setTimeout(() => app.server.closeAllConnections(), Math.min(5_000, config.shutdownTimeoutMs / 2))
        await closing
        clearTimeout(grace)
      }
      await worker?.stop()
      await deps.close()
      log.info('shutdown complete')
      process.exit(0)
    } catch (err) {
      log.error({ err }, 'shutdown failed')
      process.exit(1)
    }
  }
  process.on('SIGTERM', () => void shutdown('SIGTERM'))
  process.on('SIGINT', () => void shutdown('SIGINT'))
}

main().catch((err) => {
  console.error(err)
  process.exit(1)
})
