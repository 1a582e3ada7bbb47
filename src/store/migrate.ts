import { fileURLToPath } from 'node:url'
import type { PGlite } from '@electric-sql/pglite'
import { runner } from 'node-pg-migrate'
import type { Logger } from '../logger.ts'
import { pgliteMigrationClient } from './sql-client.ts'

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations', import.meta.url))

/**
 * Applies pending migrations, the same files on a server and embedded. Safe to
 * call from many processes at once: they wait on an advisory lock. `count`
 * stops after that many, so a test can build a store as an older version left it.
 */
export async function migrate(
  target: { databaseUrl: string } | { pglite: PGlite },
  log: Logger,
  options: { count?: number } = {},
): Promise<string[]> {
  const connection =
    'databaseUrl' in target
      ? { databaseUrl: target.databaseUrl }
      : { dbClient: pgliteMigrationClient(target.pglite) as never }
  const applied = await runner({
    ...connection,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    count: options.count ?? Infinity,
    advisoryLockMode: 'wait',
    logger: {
      debug: () => {},
      info: (m: string) => log.debug(m),
      warn: (m: string) => log.warn(m),
      error: (m: string) => log.error(m),
    },
  })
  return applied.map((m) => m.name)
}
