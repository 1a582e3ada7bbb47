import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { freePort } from './services.ts'

/** A PostgreSQL cluster of its own (initdb), on a free port, for a restore to go into. */
export interface ThrowawayCluster {
  /** the admin URL of its `postgres` database */
  url: string
  port: number
  /** a URL to a database of the cluster */
  database(name: string): string
  stop(): void
}

/** The Debian binaries' directory (/usr/lib/postgresql/N/bin), the newest, or undefined. */
export function postgresBin(): string | undefined {
  const base = '/usr/lib/postgresql'
  if (!existsSync(base)) return undefined
  const versions = readdirSync(base)
    .filter((v) => existsSync(join(base, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] ? join(base, versions[0], 'bin') : undefined
}

/**
 * initdb into a temporary directory and start the server on 127.0.0.1 with
 * trust authentication. initdb refuses to run as root: then it runs as the
 * postgres OS user, which owns the directory.
 */
export async function startThrowawayCluster(): Promise<ThrowawayCluster> {
  const bin = postgresBin()
  if (!bin) throw new Error('no PostgreSQL binaries under /usr/lib/postgresql')
  const dir = mkdtempSync(join(tmpdir(), 'ea-cluster-'))
  const asRoot = userInfo().uid === 0
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    chownSync(dir, uid, gid)
  }
  const run = (tool: string, args: string[]) =>
    execFileSync(
      asRoot ? 'runuser' : join(bin, tool),
      asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args,
      {
        stdio: 'pipe',
        timeout: 120_000,
      },
    )
  const data = join(dir, 'data')
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
  const port = await freePort()
  run('pg_ctl', [
    '-D',
    data,
    '-w',
    '-t',
    '60',
    '-l',
    join(dir, 'server.log'),
    '-o',
    `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`,
    'start',
  ])
  const database = (name: string) => `postgres://postgres@127.0.0.1:${port}/${name}`
  return {
    url: database('postgres'),
    port,
    database,
    stop() {
      try {
        run('pg_ctl', ['-D', data, '-w', '-m', 'immediate', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
