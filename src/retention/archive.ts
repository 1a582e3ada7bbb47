import { mkdir, open, rename, rm } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { type ExportPlan, exportRows } from '../export/export-rows.ts'
import { encode } from '../export/formats.ts'
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
  const directory = await open(dirname(file), 'r')
  await directory.sync().finally(() => directory.close())
  return rows
}
