import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { BenchReport } from '../../bench/lib/report.ts'
import { ADMIN_DATABASE_URL, TEST_REDIS_URL } from '../helpers/services.ts'

// What the bench tests share: the benchmark run as a child process, and the realistic query set's names.

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
// The three runs go side by side, each with its own service processes; on a loaded
// 2-core machine none finished in 120 s. This only bounds a hang, below npm test's
// 10 minutes a file, so a hung run is named.
export const BENCH_TIMEOUT_MS = 480_000
export const REALISTIC_QUERIES = [
  'DAU 7 days',
  'DAU 30 days',
  'top events 10',
  'top events 100',
  'retention 3 weeks',
  'retention 7 days',
  'cohorts 4 weeks',
  'breakdown by country',
  'breakdown by path',
  'DAU 30 days, referrer=google',
  'top events 10, path=/pricing',
  'DAU 30 days, referrer≠direct',
  'top events 10, amount>100',
  'retention 3 weeks, device.os=iOS',
  'web overview 30 days',
  'web top pages 10',
  'web entry pages 10',
  'web sources by referrer_host',
  'funnel 3 steps 30 days',
  'trends page_view users per day',
  'trends events per week',
  'active users 30 days',
  'stickiness page_view 30 days',
  'lifecycle page_view 30 days',
  'paths from page:/ 5 steps',
  'paths to purchase 5 steps',
]

/** `npm run bench -- ...` as a real child process, in a results directory of its own. */
export async function bench(
  args: string[],
): Promise<{ code: number | null; output: string; outDir: string }> {
  const outDir = mkdtempSync(join(tmpdir(), 'ea-bench-test-'))
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/bench.ts', ...args, '--out', outDir],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        BENCH_DATABASE_URL: ADMIN_DATABASE_URL,
        BENCH_REDIS_URL: TEST_REDIS_URL,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, output, outDir }
}

/** The JSON report and its Markdown twin that a run wrote (NaN reads back as null). */
export function readResults(outDir: string): { report: BenchReport; markdown: string } {
  const files = readdirSync(outDir)
  const json = files.find((f) => /^bench-\d.*\.json$/.test(f))
  const md = json?.replace(/\.json$/, '.md')
  if (!json || !md || !files.includes(md))
    throw new Error(`no bench JSON and Markdown in ${outDir}: ${files.join(', ')}`)
  return {
    report: JSON.parse(readFileSync(join(outDir, json), 'utf8')),
    markdown: readFileSync(join(outDir, md), 'utf8'),
  }
}
