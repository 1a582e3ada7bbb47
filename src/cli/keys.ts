import { parseArgs } from 'node:util'
import { SCOPES, type Scope } from '../auth/api-keys.ts'
import { loadConfig } from '../config.ts'
import { openStorage } from '../deps.ts'
import { cliLogger } from '../logger.ts'

// npm run keys -- create --scope read [--name dashboard] | list | revoke <id or prefix>
const USAGE =
  'usage: keys create --scope read|write|admin [--name NAME] | keys list | keys revoke <id or key prefix>'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { scope: { type: 'string' }, name: { type: 'string', default: '' } },
})
const [command, target] = positionals
const config = loadConfig(process.env, { dotenv: true })
const storage = await openStorage(config, cliLogger(config.logLevel, 'keys'))
const keys = storage.apiKeys
let exitCode = 0
try {
  if (command === 'create') {
    if (!SCOPES.includes(values.scope as Scope))
      throw new Error(`--scope must be one of ${SCOPES.join(', ')}\n${USAGE}`)
    const { key, info } = await keys.create(values.scope as Scope, values.name, 1)
    // The key is shown this once; only its digest is stored.
    console.log(JSON.stringify({ ...info, key }, null, 2))
  } else if (command === 'list') {
    console.log(JSON.stringify(await keys.list(), null, 2))
  } else if (command === 'revoke' && target) {
    const revoked = await keys.revoke(target)
    console.log(JSON.stringify({ revoked }))
    if (revoked === 0) exitCode = 1
  } else {
    throw new Error(USAGE)
  }
} catch (err) {
  console.error((err as Error).message)
  exitCode = 2
} finally {
  await storage.close()
}
process.exit(exitCode)
