import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const HEADER = 'event_id,occurred_at,user_id,event_type,properties_json'
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
export const IMPORT_CLI = join(ROOT, 'src/cli/import.ts')
export const LAUNCHER = join(ROOT, 'bin/event-analytics.js')
// Resolved here, so that the child can run in a directory of its own (where a
// developer's .env cannot reach it) and still find tsx.
const TSX = import.meta.resolve('tsx')

/** A directory of its own for one suite's CSV files, rejects files and DATA_DIR. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ea-import-${prefix}-`))
}

/** Writes a fixture exactly as given (line endings included) and returns its path. */
export function writeCsv(dir: string, name: string, text: string): string {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

/** A UUID that is deterministic per (group, n), so expectations can name it. */
export function uuid(n: number, group = 0): string {
  return `${group.toString(16).padStart(8, '0')}-0000-4000-8000-${String(n).padStart(12, '0')}`
}

/** Plain rows (no quoting needed) joined with the given line ending, header first. */
export function simpleCsv(rows: string[][], eol = '\n'): string {
  return [HEADER, ...rows.map((r) => r.join(','))].join(eol) + eol
}

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/**
 * Runs the import as a real process, the way `npm run import` does, with only
 * the environment given (plus PATH), in `cwd`: no .env, no inherited DATABASE_URL.
 */
export function runImport(
  args: string[],
  env: Record<string, string>,
  options: { cwd: string; launcher?: boolean },
): Promise<CliResult> {
  const argv = options.launcher
    ? [LAUNCHER, 'import', ...args]
    : ['--import', TSX, IMPORT_CLI, ...args]
  const child = spawn(process.execPath, argv, {
    cwd: options.cwd,
    env: { PATH: process.env.PATH, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
