import { parseArgs } from 'node:util'

export type Mode = 'queue' | 'direct'

export interface LoadOptions {
  events: number
  batch: number
  concurrency: number
  users: number
  days: number
  mode: Mode
  /** worker processes; always 0 in direct mode, where the API writes itself */
  workers: number
  keep: boolean
  /** extra KEY=VALUE settings for the service processes, to compare tunings */
  serviceEnv: Record<string, string>
  adminDatabaseUrl: string
  redisUrl: string
}

const USAGE = `usage: tsx bench/load.ts [options]
  --events N         events to send (200000)
  --batch N          events per request (1000)
  --concurrency N    concurrent HTTP clients (8)
  --users N          distinct users (10000)
  --days N           occurred_at spread over the last N days (30)
  --mode M           queue | direct (queue)
  --workers N        worker processes in queue mode (1)
  --service-env K=V  extra environment for the service processes (repeatable)
  --keep             keep the database and Redis keys afterwards
environment: BENCH_DATABASE_URL (admin url), BENCH_REDIS_URL`

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): LoadOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      events: { type: 'string', default: '200000' },
      batch: { type: 'string', default: '1000' },
      concurrency: { type: 'string', default: '8' },
      users: { type: 'string', default: '10000' },
      days: { type: 'string', default: '30' },
      mode: { type: 'string', default: 'queue' },
      workers: { type: 'string', default: '1' },
      'service-env': { type: 'string', multiple: true, default: [] },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const mode = values.mode
  if (mode !== 'queue' && mode !== 'direct') throw new Error(`--mode must be queue or direct, got "${mode}"`)
  return {
    events: positiveInt('events', values.events),
    batch: positiveInt('batch', values.batch),
    concurrency: positiveInt('concurrency', values.concurrency),
    users: positiveInt('users', values.users),
    days: positiveInt('days', values.days),
    mode,
    workers: mode === 'direct' ? 0 : positiveInt('workers', values.workers),
    keep: values.keep,
    serviceEnv: parseServiceEnv(values['service-env']),
    adminDatabaseUrl: env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    redisUrl: env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379',
  }
}

function positiveInt(name: string, text: string): number {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got "${text}"`)
  return n
}

function parseServiceEnv(pairs: string[]): Record<string, string> {
  const env: Record<string, string> = {}
  for (const pair of pairs) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(pair)
    if (!match) throw new Error(`--service-env must look like NAME=value, got "${pair}"`)
    env[match[1]!] = match[2]!
  }
  return env
}
