// Peak memory of a service answering GET /export: an API process on the
// database bench/export-memory.ts seeded (run it with --keep first), without
// the analytics replica (ANALYTICS_ENABLED=false, so the replica's own build
// is not counted), its peak RSS (VmHWM in /proc) read once it is up and again
// after each export, which the script reads to the end as fast as it can.
//   tsx bench/export-memory-http.ts --events 1000000
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { freePort } from '../test/helpers/services.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    'admin-url': { type: 'string', default: 'postgres://postgres@127.0.0.1:5432/postgres' },
  },
})
const url = new URL(values['admin-url'])
url.pathname = `/ea_export_mem_${Number(values.events)}`
const port = await freePort()
const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'api'], {
  cwd: fileURLToPath(new URL('../', import.meta.url)),
  env: {
    PATH: process.env.PATH,
    DATABASE_URL: url.toString(),
    USE_QUEUE: 'false',
    ANALYTICS_ENABLED: 'false',
    PORT: String(port),
    LOG_LEVEL: 'warn',
  },
  stdio: ['ignore', 'inherit', 'inherit'],
})
const hwm = () => {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))!
  return Math.round(Number(m[1]) / 102.4) / 10
}
const base = `http://127.0.0.1:${port}`
for (let i = 0; ; i++) {
  try {
    if ((await fetch(`${base}/health`)).ok) break
  } catch {}
  if (i > 600) throw new Error('the service did not start')
  await new Promise((r) => setTimeout(r, 100))
}
const rows: unknown[] = [{ after: 'start', peakRssMiB: hwm() }]
for (const format of ['ndjson', 'csv', 'parquet']) {
  const started = performance.now()
  const res = await fetch(`${base}/export?from=2026-11-01&to=2026-11-30&format=${format}`)
  let bytes = 0
  for await (const chunk of res.body!) bytes += (chunk as Uint8Array).length
  rows.push({
    after: format,
    status: res.status,
    fileMiB: Math.round(bytes / 104857.6) / 10,
    seconds: Math.round((performance.now() - started) / 100) / 10,
    peakRssMiB: hwm(),
  })
}
console.log(JSON.stringify(rows, null, 1))
child.kill('SIGTERM')
