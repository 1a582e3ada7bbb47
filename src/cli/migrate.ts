import { loadConfig } from '../config.ts'
import { createLogger } from '../logger.ts'
import { openStore } from '../store/open-store.ts'

const config = loadConfig(process.env, { dotenv: true })
const log = createLogger(config.logLevel).child({ component: 'migrate' })
// Opening the store applies what is pending (and, embedded, takes DATA_DIR's lock).
const db = await openStore(config, log)
await db.end()
log.info({ store: db.kind }, 'migrations are up to date')
