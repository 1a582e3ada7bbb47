import { loadConfig } from '../config.ts'
import { openStorage } from '../deps.ts'
import { createLogger } from '../logger.ts'

const config = loadConfig(process.env, { dotenv: true })
const log = createLogger(config.logLevel).child({ component: 'migrate' })
// Opening the store applies what is pending (and, embedded, takes DATA_DIR's lock).
const storage = await openStorage(config, log)
await storage.close()
log.info({ store: storage.db.kind }, 'migrations are up to date')
