import { createReadStream } from 'node:fs'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api'
import { stringify } from 'csv-stringify/sync'
import { CSV_COLUMNS } from '../import/csv-source.ts'
import type { ExportRow } from './export-rows.ts'

export const EXPORT_FORMATS = ['ndjson', 'csv', 'parquet'] as const
export type ExportFormat = (typeof EXPORT_FORMATS)[number]

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
}

/**
 * How the encoded pages are buffered: one page ahead (a page of 10,000 rows is
 * a few MB of text), not Readable.from's 16.
 */
export const EXPORT_STREAM = { highWaterMark: 1 }

/**
 * The pages of rows as a file of the format, a chunk per page, pulled by
 * whoever reads it (Readable.from): a slow reader holds the store's reads
 * back instead of filling memory.
 */
export function encode(
  pages: AsyncIterable<ExportRow[]>,
  format: ExportFormat,
  options: { tempDir?: string } = {},
): AsyncGenerator<string | Buffer> {
  if (format === 'csv') return csv(pages)
  if (format === 'ndjson') return ndjson(pages)
  return parquet(pages, options.tempDir ?? tmpdir())
}

/** The import's file: a header naming its columns, then one record per event. */
async function* csv(pages: AsyncIterable<ExportRow[]>): AsyncGenerator<string> {
  yield stringify([CSV_COLUMNS as unknown as string[]], { eof: true, record_delimiter: '\n' })
  for await (const rows of pages) yield stringify(rows, { record_delimiter: '\n' })
}

/** One event per line, shaped as POST /events takes it (properties as JSON, `{}` when none). */
async function* ndjson(pages: AsyncIterable<ExportRow[]>): AsyncGenerator<string> {
  for await (const rows of pages) yield rows.map(ndjsonLine).join('')
}

function ndjsonLine([id, at, user, type, props]: ExportRow): string {
  // The properties are PostgreSQL's JSON text already: pasted, not parsed and written again.
  return `{"event_id":${JSON.stringify(id)},"occurred_at":${JSON.stringify(at)},"user_id":${JSON.stringify(user)},"event_type":${JSON.stringify(type)},"properties":${props === '' ? '{}' : props}}\n`
}

/**
 * Parquet needs the whole file written before it is read (its footer comes
 * last): the rows go to a temporary NDJSON file (the CSV columns, properties
 * as text), DuckDB turns that into Parquet (zstd) with a small memory limit,
 * streaming, and the Parquet file is then read out. Disk, not memory, holds
 * the export meanwhile; both files are removed at the end, whatever happens.
 */
async function* parquet(pages: AsyncIterable<ExportRow[]>, base: string): AsyncGenerator<Buffer> {
  const dir = await mkdtemp(join(base, 'ea-export-'))
  try {
    const source = join(dir, 'rows.ndjson')
    const target = join(dir, 'events.parquet')
    const file = await open(source, 'w')
    try {
      for await (const rows of pages) {
        const lines = rows.map((r) =>
          JSON.stringify(Object.fromEntries(CSV_COLUMNS.map((c, i) => [c, r[i]]))),
        )
        await file.write(`${lines.join('\n')}\n`)
      }
    } finally {
      await file.close()
    }
    await toParquet(source, target)
    for await (const chunk of createReadStream(target)) yield chunk as Buffer
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function toParquet(source: string, target: string): Promise<void> {
  await withScratchDuckDb(async (conn) => {
    const columns = `{${CSV_COLUMNS.map((c) => `'${c}': 'VARCHAR'`).join(', ')}}`
    // COPY takes no bound parameters: the two paths (our own temporary files) are quoted literals.
    await conn.run(
      `COPY (SELECT ${CSV_COLUMNS.join(', ')} FROM read_json(${literal(source)}, format = 'newline_delimited', columns = ${columns}))
       TO ${literal(target)} (FORMAT parquet, COMPRESSION zstd)`,
    )
  })
}

/**
 * A DuckDB of its own, in memory, with a small memory limit and one thread,
 * for work on files (Parquet) apart from the replica; closed whatever happens.
 */
export async function withScratchDuckDb<T>(
  work: (conn: DuckDBConnection) => Promise<T>,
): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:', {
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    memory_limit: '256MB',
    threads: '1',
  })
  const conn = await instance.connect()
  try {
    return await work(conn)
  } finally {
    conn.closeSync()
    instance.closeSync()
  }
}

/** A string as an SQL literal: for what takes no bound parameters (COPY's paths). */
export const literal = (text: string) => `'${text.replaceAll("'", "''")}'`
