// Embedded-mode benchmark: what a laptop user sees with `npm start` and nothing
// configured. Start-up of a fresh DATA_DIR and of a restart, events/s stored
// through HTTP (201: written before answering), and the /stats timings.
//   npm run bench:embedded -- --events 1000000
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { request } from 'undici'
import { generateEvents, toRequestBodies } from './lib/dataset.ts'
import { postBatches } from './lib/http-load.ts'
import { peakRssMb } from './lib/proc.ts'
import { percentile } from './lib/stats.ts'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    users: { type: 'string', default: '20000' },
    days: { type: 'string', default: '30' },
    concurrency: { type: 'string', default: '4' },
    runs: { type: 'string', default: '50' },
  },
})
const events = Number(args.events)
const ROOT = fileURLToPath(new URL('../', import.meta.url))
const dataDir = mkdtempSync(join(tmpdir(), 'ea-bench-embedded-'))
const port = 18_000 + Math.floor(Math.random() * 1000)
const base = `http://127.0.0.1:${port}`

function startService(): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'all'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn', RATE_LIMIT_REQUESTS: '1000000000' },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
}

async function untilHealthy(): Promise<number> {
  const started = performance.now()
  for (;;) {
    try {
      const res = await request(`${base}/health`)
      await res.body.dump()
      if (res.statusCode === 200) return performance.now() - started
    } catch {
      // not listening yet
    }
    await sleep(50)
  }
}

async function getJson<T>(path: string): Promise<T> {
  const res = await request(`${base}${path}`)
  return (await res.body.json()) as T
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  await exited
}

const data = generateEvents({ events, users: Number(args.users), days: Number(args.days) })
const bodies = toRequestBodies(data, 1000)
const days = data.map((e) => e.occurred_at.slice(0, 10)).sort()
const [first, last] = [days[0]!, days[days.length - 1]!]

let child = startService()
try {
  const freshStartMs = await untilHealthy()
  console.log(`fresh start-up (new DATA_DIR, migrations included): ${Math.round(freshStartMs)} ms`)
  const load = await postBatches(base, bodies, Number(args.concurrency), 201)
  const seconds = (load.finishedAt - load.startedAt) / 1000
  console.log(`stored ${events.toLocaleString()} events in ${seconds.toFixed(1)} s: ${Math.round(events / seconds).toLocaleString()} events/s; ` +
    `request p50 ${percentile(load.latenciesMs, 50).toFixed(1)} ms, p99 ${percentile(load.latenciesMs, 99).toFixed(1)} ms`)
  for (;;) {
    const { sync } = await getJson<{ sync: { synced_rows: number } }>('/events/queue/status')
    if (sync.synced_rows >= events) break
    await sleep(200)
  }
  const weekAgo = new Date(Date.parse(`${last}T00:00:00Z`) - 6 * 86_400_000).toISOString().slice(0, 10)
  const queries: Array<[string, string]> = [
    ['DAU 30 days', `/stats/dau?from=${first}&to=${last}`],
    ['DAU 7 days', `/stats/dau?from=${weekAgo}&to=${last}`],
    ['top events 10', `/stats/top-events?from=${first}&to=${last}&limit=10`],
    ['top events 100', `/stats/top-events?from=${first}&to=${last}&limit=100`],
    ['retention 3 weeks', `/stats/retention?start_date=${first}&windows=3`],
  ]
  for (const [name, path] of queries) {
    for (let i = 0; i < 5; i++) await getJson(path)
    const samples: number[] = []
    for (let i = 0; i < Number(args.runs); i++) {
      const t = performance.now()
      await getJson(path)
      samples.push(performance.now() - t)
    }
    console.log(`  ${name.padEnd(18)} p50 ${percentile(samples, 50).toFixed(1)} ms  p95 ${percentile(samples, 95).toFixed(1)} ms`)
  }
  console.log(`peak memory: ${await peakRssMb(child.pid!)} MB`)
  await stop(child)
  child = startService()
  console.log(`restart with ${events.toLocaleString()} events: ${Math.round(await untilHealthy())} ms`)
} finally {
  if (child.exitCode === null) await stop(child)
  rmSync(dataDir, { recursive: true, force: true })
}
