import { mkdir, open, readdir, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { listValue } from '@duckdb/node-api'
import { type ExportPlan, exportRows } from '../export/export-rows.ts'
import { encode, literal, withScratchDuckDb } from '../export/formats.ts'
import type { SqlClient } from '../store/sql-client.ts'

/** Where a project's archived events go under ARCHIVE_DIR: one Parquet file per removed table or sweep. */
export function archiveFile(dir: string, project: number, name: string): string {
  return join(dir, `project-${project}`, `${name}.parquet`)
}

/**
 * Writes the events of a plan to `file` as the export's Parquet (zstd, the
 * columns `npm run import` reads), durably: a partial file, flushed to disk,
 * then renamed over any earlier one, so a crash leaves either the old file or
 * the whole new one, never half of it, before the sweep removes the rows.
 * Returns the events written; with none, no file is left.
 */
export async function archiveRows(db: SqlClient, plan: ExportPlan, file: string): Promise<number> {
  await mkdir(dirname(file), { recursive: true })
  let rows = 0
  async function* counted() {
    for await (const page of exportRows(db, plan)) {
      rows += page.length
      yield page
    }
  }
  const partial = `${file}.partial`
  const out = await open(partial, 'w')
  try {
    for await (const chunk of encode(counted(), 'parquet', { tempDir: dirname(file) }))
      await out.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
    await out.sync()
  } finally {
    await out.close()
  }
  if (rows === 0) {
    await rm(partial, { force: true })
    return 0
  }
  await rename(partial, file)
  // The rename itself is durable once the directory is.
  await syncFile(dirname(file))
  return rows
}

/**
 * A user's deletion in the archive: every file of the project holding events
 * of the ids is written again without them (a partial file, flushed, renamed
 * over it), the others are left alone. Returns the events removed. Running
 * it again removes nothing more, so a deletion that crashed half-way runs it
 * whole again.
 */
export async function purgeArchive(
  dir: string,
  project: number,
  ids: readonly string[],
): Promise<number> {
  const folder = dirname(archiveFile(dir, project, 'x'))
  const files = (await readdir(folder).catch(() => [] as string[]))
    .filter((f) => f.endsWith('.parquet'))
    .map((f) => join(folder, f))
  if (files.length === 0) return 0
  const removed = await withScratchDuckDb(async (conn) => {
    let n = 0
    await conn.run('CREATE TEMP TABLE gone AS SELECT unnest($1::VARCHAR[]) AS user_id', [
      listValue([...ids]),
    ])
    for (const file of files) {
      // COPY and read_parquet take no bound parameters: the paths are our own files, quoted.
      const source = `read_parquet(${literal(file)})`
      const reader = await conn.runAndReadAll(
        `SELECT count(*) FROM ${source} WHERE user_id IN (SELECT user_id FROM gone)`,
      )
      const inFile = Number(reader.getRows()[0]![0])
      if (inFile === 0) continue
      const partial = `${file}.partial`
      await conn.run(
        `COPY (SELECT * FROM ${source} WHERE user_id NOT IN (SELECT user_id FROM gone))
         TO ${literal(partial)} (FORMAT parquet, COMPRESSION zstd)`,
      )
      await syncFile(partial)
      await rename(partial, file)
      n += inFile
    }
    return n
  })
  await syncFile(folder)
  return removed
}

async function syncFile(path: string): Promise<void> {
  const handle = await open(path, 'r')
  await handle.sync().finally(() => handle.close())
}
