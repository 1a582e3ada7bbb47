import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { BaselineResult } from './baseline.ts'
import type { CpuBreakdown } from './cpu-probe.ts'
import type { Mode } from './options.ts'
import type { ProcessUsage } from './service.ts'

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))

export interface LoadReport {
  startedAt: string
  /** digest of src/ at the time of the run */
  serviceSource: string
  settings: { events: number; batch: number; concurrency: number; workers: number; mode: Mode; users: number; days: number; serviceEnv: Record<string, string> }
  ingest: {
    acceptedEventsPerSecond: number
    acceptDurationMs: number
    storedEventsPerSecond: number
    storeDurationMs: number
    latencyMs: { p50: number; p95: number; p99: number; max: number }
    requests: number
  }
  baseline: { unnest: BaselineResult; copy: BaselineResult }
  /** stored end-to-end events/s divided by each baseline's rows/s */
  ratio: { storedToUnnest: number; storedToCopy: number }
  processes: ProcessUsage[]
  /** CPU seconds from the first request until everything was stored */
  cpu: CpuBreakdown
}

export function printReport(r: LoadReport): void {
  const rows: Array<[string, string]> = [
    ['service source', r.serviceSource],
    ['mode', r.settings.mode],
    ['events', int(r.settings.events)],
    ['batch', int(r.settings.batch)],
    ['concurrency', int(r.settings.concurrency)],
    ['workers', int(r.settings.workers)],
    ...Object.entries(r.settings.serviceEnv).map(([k, v]): [string, string] => [`service env ${k}`, v]),
    ['accepted events/s', `${int(r.ingest.acceptedEventsPerSecond)}  (${sec(r.ingest.acceptDurationMs)})`],
    ['stored events/s, end to end', `${int(r.ingest.storedEventsPerSecond)}  (${sec(r.ingest.storeDurationMs)})`],
    ['request latency p50/p95/p99', `${ms(r.ingest.latencyMs.p50)} / ${ms(r.ingest.latencyMs.p95)} / ${ms(r.ingest.latencyMs.p99)} ms`],
    ['baseline unnest rows/s', `${int(r.baseline.unnest.rowsPerSecond)}  (${sec(r.baseline.unnest.ms)})`],
    ['baseline COPY rows/s', `${int(r.baseline.copy.rowsPerSecond)}  (${sec(r.baseline.copy.ms)})`],
    ['stored / unnest baseline', r.ratio.storedToUnnest.toFixed(2)],
    ['stored / COPY baseline', r.ratio.storedToCopy.toFixed(2)],
    ...r.processes.map((p): [string, string] => [`${p.role} peak RSS`, `${p.peakRssMb ?? '?'} MB${p.logLines ? `, ${p.logLines} log lines` : ''}`]),
    ['CPU busy while ingesting', `${Math.round(r.cpu.busyPercent)}% of ${r.cpu.cores} cores`],
    ['CPU seconds while ingesting', cpuSeconds(r.cpu)],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'))
}

/** Writes bench/results/load-<timestamp>.json and returns its path. */
export async function saveReport(r: LoadReport): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true })
  const path = `${RESULTS_DIR}load-${r.startedAt.replace(/[:.]/g, '-')}.json`
  await writeFile(path, `${JSON.stringify(r, null, 2)}\n`)
  return path
}

function cpuSeconds(cpu: CpuBreakdown): string {
  const parts = { ...cpu.service, postgres: cpu.postgres, redis: cpu.redis, 'load generator': cpu.loadGenerator, other: cpu.other }
  return Object.entries(parts).map(([who, s]) => `${who} ${s}`).join(', ')
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => n.toFixed(1)
const sec = (n: number): string => `${(n / 1000).toFixed(2)} s`
