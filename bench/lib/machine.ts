import { cpus, release, totalmem } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { DuckDBInstance } from '@duckdb/node-api'
import { Redis } from 'ioredis'
import type { Engine } from './engine.ts'
import { machineCpu } from './proc.ts'

export interface Machine {
  cpu: string
  cores: number
  memoryGiB: number
  kernel: string
  node: string
  store: string
  redis: string | undefined
  duckdb: string
  /** share of all cores busy in the second before the run: other work skews every figure */
  busyBeforeRunPercent: number
}

/**
 * How busy the machine is with work that is not the benchmark's: the service,
 * the databases and the load generator share the cores with it.
 */
export async function backgroundLoadPercent(ms = 1000): Promise<number> {
  const before = await machineCpu()
  await sleep(ms)
  const after = await machineCpu()
  const total = after.totalSeconds - before.totalSeconds
  return total > 0 ? Math.round((100 * (after.busySeconds - before.busySeconds)) / total) : 0
}

/** What the figures were measured on, for the report's first line. */
export async function describeMachine(
  engine: Engine,
  redisUrl: string | undefined,
  busyBeforeRunPercent: number,
): Promise<Machine> {
  const [store] = await engine.query<{ v: string }>('SELECT version() AS v')
  const duck = await DuckDBInstance.create(':memory:')
  const conn = await duck.connect()
  const duckdb = String((await conn.runAndReadAll('SELECT version() AS v')).getRowObjects()[0]!.v)
  conn.closeSync()
  duck.closeSync()
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    kernel: `Linux ${release()}`,
    node: process.version,
    // "PostgreSQL 15.20 (Debian …) on x86_64 …": the name and version are enough.
    store: `${engine.kind === 'pglite' ? 'PGlite: ' : ''}${store!.v.split(' ').slice(0, 2).join(' ')}`,
    redis: redisUrl === undefined ? undefined : await redisVersion(redisUrl),
    duckdb: `DuckDB ${duckdb}`,
    busyBeforeRunPercent,
  }
}

async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    return `Redis ${/^redis_version:(\S+)/m.exec(await redis.info('server'))?.[1] ?? '?'}`
  } finally {
    await redis.quit()
  }
}
