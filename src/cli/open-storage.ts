import { loadConfig } from '../config.ts'
import { openStorage, type Storage } from '../deps.ts'
import { cliLogger } from '../logger.ts'
import { DataDirLockedError } from '../store/open-store.ts'

/** The store for a command-line tool; embedded, a held DATA_DIR is a plain message saying what to do. */
export async function openCliStorage(tool: string): Promise<Storage> {
  const config = loadConfig(process.env, { dotenv: true })
  try {
    return await openStorage(config, cliLogger(config.logLevel, tool))
  } catch (err) {
    if (!(err instanceof DataDirLockedError)) throw err
    throw new Error(
      `${err.message}.\nEmbedded, this command opens DATA_DIR itself: stop the service, run it, then start the service again.`,
    )
  }
}
