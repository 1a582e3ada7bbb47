import { spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DuckDBInstance } from '@duckdb/node-api'
import { parse } from 'csv-parse/sync'
import type { EventInput } from '../../src/events/event-schema.ts'
import type { CliResult } from '../import/helpers.ts'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const TSX = import.meta.resolve('tsx')

/** An exported event, parsed back: the CSV columns, properties as an object. */
export interface Exported {
  event_id: string
  occurred_at: string
  user_id: string
  event_type: string
  properties: Record<string, unknown>
}

const PLANS = ['free', 'pro', 'team']
const TYPES = ['page_view', 'signup', 'purchase', 'click']

/**
 * Events over three days with what an export must carry through: microsecond
 * times in other zones, text needing CSV quoting (commas, quotes, line
 * breaks), non-ASCII, nested, numeric and boolean properties, and none.
 */
export function fixtureEvents(): EventInput[] {
  const events: EventInput[] = []
  for (let i = 0; i < 240; i++) {
    const day = 1 + (i % 3)
    const hour = String(i % 24).padStart(2, '0')
    const micros = String(100_000 + i * 7).padStart(6, '0')
    const properties: Record<string, unknown> =
      i % 11 === 0
        ? {}
        : {
            plan: PLANS[i % 3],
            amount: (i * 37) % 150,
            ok: i % 2 === 0,
            note: i % 5 === 0 ? `a, "quoted"\nline ${i} — ü` : `n${i}`,
            device: { os: i % 4 === 0 ? 'ios' : 'android' },
          }
    events.push({
      event_id: `0000${String(i).padStart(4, '0')}-1111-4000-8000-00000000abcd`,
      occurred_at:
        i % 7 === 0
          ? // 02:00 or later: the same UTC day
            `2026-11-0${day}T${String(Math.max(2, i % 24)).padStart(2, '0')}:30:00.${micros}+02:00`
          : `2026-11-0${day}T${hour}:15:00.${micros}Z`,
      user_id: i % 13 === 0 ? `user,${i % 4} "x"` : `user-${i % 17}`,
      event_type: TYPES[i % 4]!,
      properties,
    })
  }
  return events
}

export const csvRows = (text: string): Exported[] =>
  (parse(text, { columns: true }) as Array<Record<string, string>>).map((r) => ({
    event_id: r.event_id!,
    occurred_at: r.occurred_at!,
    user_id: r.user_id!,
    event_type: r.event_type!,
    properties: r.properties_json === '' ? {} : JSON.parse(r.properties_json!),
  }))

export const ndjsonRows = (text: string): Exported[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Exported)

/** A Parquet file's rows, read by DuckDB, and the compression of its columns. */
export async function parquetRows(
  bytes: Buffer,
  dir: string,
): Promise<{ rows: Exported[]; codecs: string[]; columns: string[] }> {
  const path = join(dir, `read-${Math.random().toString(36).slice(2)}.parquet`)
  writeFileSync(path, bytes)
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
  })
  const conn = await instance.connect()
  try {
    const read = await conn.runAndReadAll(`SELECT * FROM read_parquet('${path}')`)
    const columns = read.columnNames()
    const rows = (read.getRowObjects() as Array<Record<string, string>>).map((r) => ({
      event_id: r.event_id!,
      occurred_at: r.occurred_at!,
      user_id: r.user_id!,
      event_type: r.event_type!,
      properties: r.properties_json === '' ? {} : JSON.parse(r.properties_json!),
    }))
    const meta = await conn.runAndReadAll(
      `SELECT DISTINCT compression FROM parquet_metadata('${path}') ORDER BY 1`,
    )
    const codecs = (meta.getRowObjects() as Array<{ compression: string }>).map(
      (r) => r.compression,
    )
    return { rows, codecs, columns }
  } finally {
    conn.closeSync()
    instance.closeSync()
  }
}

/** `npm run export` or `npm run import` as a real process, with only the environment given. */
export function runCli(
  tool: 'export' | 'import',
  args: string[],
  env: Record<string, string>,
  cwd: string,
): Promise<CliResult> {
  const child = spawn(
    process.execPath,
    ['--import', TSX, join(ROOT, `src/cli/${tool}.ts`), ...args],
    {
      cwd,
      env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
