import { Analytics } from '../analytics/analytics.ts'
import { ReplicaLockedError } from '../analytics/duckdb-replica.ts'
import { RetentionCuts } from '../analytics/retention-cut.ts'
import { loadConfig } from '../config.ts'
import { openStorage } from '../deps.ts'
import { createLogger } from '../logger.ts'

// Drops the DuckDB replica's contents and refills it from PostgreSQL. The
// replica is derived data, so this is always safe; the service must be stopped
// first (the file lock makes sure of it).
const config = loadConfig(process.env, { dotenv: true })
const log = createLogger(config.logLevel).child({ component: 'rebuild-analytics' })
const storage = await openStorage(config, log)
let analytics: Analytics
try {
  analytics = await Analytics.open(
    config.analytics,
    storage.db,
    storage.projects,
    log,
    undefined,
    new RetentionCuts(storage.projects, config.retention.days),
  )
} catch (err) {
  if (err instanceof ReplicaLockedError) {
    log.fatal(`${err.message}; stop the service first`)
    process.exit(1)
  }
  throw err
}
await analytics.reset()
const started = performance.now()
const rows = await analytics.catchUp()
await analytics.fold()
const seconds = (performance.now() - started) / 1000
log.info(
  { rows, seconds: Math.round(seconds * 10) / 10, rowsPerSecond: Math.round(rows / seconds) },
  'replica rebuilt',
)
await analytics.close()
await storage.close()
