import { ReplicaLockedError } from './analytics/duckdb-replica.ts'
import { ConfigError, loadConfig } from './config.ts'
import { buildDeps } from './deps.ts'
import { createLogger } from './logger.ts'
import { ROLES, type Role, RoleError, startRole } from './roles.ts'
import { DataDirLockedError } from './store/open-store.ts'

// The process around a role: its configuration, exit codes and signals.
async function main(): Promise<void> {
  const role = (process.argv[2] ?? 'all') as Role
  if (!ROLES.includes(role)) {
    console.error(`unknown role "${role}": use ${ROLES.join(', ')}`)
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
  let running
  try {
    const deps = await buildDeps(config, log, { analytics: role !== 'worker' })
    running = await startRole(deps, role, { listen: true }).catch(async (err: unknown) => {
      await deps.close()
      throw err
    })
  } catch (err) {
    if (err instanceof ReplicaLockedError) {
      log.fatal(
        `${err.message}, or set ANALYTICS_ENABLED=false for an API process that does not serve /stats`,
      )
      process.exit(1)
    }
    if (err instanceof DataDirLockedError || err instanceof RoleError) {
      log.fatal(err.message)
      process.exit(1)
    }
    throw err
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
      await running.stop()
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
