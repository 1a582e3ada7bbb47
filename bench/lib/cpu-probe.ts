import { cpus } from 'node:os'
import { Redis } from 'ioredis'
import type pg from 'pg'
import { type MachineCpu, machineCpu, processCpuSeconds } from './proc.ts'

/** CPU seconds spent during the measured interval, by whom. */
export interface CpuBreakdown {
  cores: number
  /** share of all cores busy, 0..100 */
  busyPercent: number
  /** by service process role (api, worker-1, ...) */
  service: Record<string, number>
  /** the backends serving the benchmark database, apart from the probe's own */
  postgres: number
  /** the whole redis-server, which other clients may share */
  redis: number
  loadGenerator: number
  /** everything else: PostgreSQL's background processes (WAL writer, checkpointer, autovacuum), and any other work on the machine, which skews the figures */
  other: number
}

interface Snapshot {
  machine: MachineCpu
  self: NodeJS.CpuUsage
  service: Map<number, number>
  postgres: Map<number, number>
  redis: Map<number, number>
}

/**
 * On a small machine the service, PostgreSQL, Redis and the load generator
 * share the cores, so the throughput depends on what each one costs. This
 * splits the machine's CPU time over them, from /proc, between start and stop.
 * Only meaningful when PostgreSQL and Redis run on this machine; otherwise they read as 0.
 */
export class CpuProbe {
  private constructor(
    private readonly db: pg.Client | undefined,
    private readonly servicePids: Record<string, number>,
    private readonly redisPid: number | undefined,
    private readonly before: Snapshot,
  ) {}

  /** Without a database client (embedded mode) PostgreSQL reads as 0; without a Redis URL, Redis does. */
  static async start(
    db: pg.Client | undefined,
    servicePids: Record<string, number>,
    redisUrl: string | undefined,
  ): Promise<CpuProbe> {
    const redisPid = redisUrl === undefined ? undefined : await redisServerPid(redisUrl)
    return new CpuProbe(db, servicePids, redisPid, await snapshot(db, servicePids, redisPid))
  }

  async stop(): Promise<CpuBreakdown> {
    const after = await snapshot(this.db, this.servicePids, this.redisPid)
    const cores = cpus().length
    const busy = after.machine.busySeconds - this.before.machine.busySeconds
    const total = after.machine.totalSeconds - this.before.machine.totalSeconds
    const loadGenerator =
      (after.self.user + after.self.system - this.before.self.user - this.before.self.system) / 1e6
    const service = Object.fromEntries(
      Object.entries(this.servicePids).map(([role, pid]) => [
        role,
        round1((after.service.get(pid) ?? 0) - (this.before.service.get(pid) ?? 0)),
      ]),
    )
    const serviceTotal = Object.values(service).reduce((a, b) => a + b, 0)
    const postgres = spent(this.before.postgres, after.postgres)
    const redis = spent(this.before.redis, after.redis)
    return {
      cores,
      busyPercent: round1(total > 0 ? (100 * busy) / total : NaN),
      service,
      postgres: round1(postgres),
      redis: round1(redis),
      loadGenerator: round1(loadGenerator),
      other: round1(Math.max(0, busy - serviceTotal - postgres - redis - loadGenerator)),
    }
  }
}

async function snapshot(
  db: pg.Client | undefined,
  servicePids: Record<string, number>,
  redisPid: number | undefined,
): Promise<Snapshot> {
  const { rows } = db
    ? await db.query<{ pid: number }>(
        'SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      )
    : { rows: [] }
  const [service, postgres, redis] = await Promise.all([
    cpuByPid(Object.values(servicePids)),
    cpuByPid(
      rows.map((r) => r.pid),
      'postgres',
    ),
    cpuByPid(redisPid === undefined ? [] : [redisPid], 'redis-server'),
  ])
  return { machine: await machineCpu(), self: process.cpuUsage(), service, postgres, redis }
}

async function cpuByPid(pids: number[], command?: string): Promise<Map<number, number>> {
  const entries = await Promise.all(
    pids.map(async (pid) => [pid, await processCpuSeconds(pid, command)] as const),
  )
  return new Map(entries.filter((e): e is readonly [number, number] => e[1] !== undefined))
}

/** CPU used since `before`; a process that appeared in between counts in full. */
function spent(before: Map<number, number>, after: Map<number, number>): number {
  let sum = 0
  for (const [pid, seconds] of after) sum += seconds - (before.get(pid) ?? 0)
  return sum
}

async function redisServerPid(url: string): Promise<number | undefined> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1 })
  try {
    const pid = /^process_id:(\d+)/m.exec(await redis.info('server'))?.[1]
    return pid === undefined ? undefined : Number(pid)
  } finally {
    await redis.quit()
  }
}

const round1 = (n: number): number => Math.round(n * 10) / 10
