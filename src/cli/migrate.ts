import { loadConfig } from '../config.ts'
import { createLogger } from '../logger.ts'
import { migrate } from '../store/migrate.ts'

const config = loadConfig(process.env, { dotenv: true })
const log = createLogger(config.logLevel).child({ component: 'migrate' })
const applied = await migrate(config.databaseUrl!, log)
log.info({ applied }, applied.length ? 'migrations applied' : 'database is up to date')
