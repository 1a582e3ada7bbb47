import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC_DIR = fileURLToPath(new URL('../../src/', import.meta.url))

/**
 * A short hash of the service's source files, stored with each result: two
 * runs compare only if they measured the same code, and src/ changes often.
 */
export async function sourceDigest(): Promise<string> {
  const files = (await readdir(SRC_DIR, { recursive: true, withFileTypes: true }))
    .filter((f) => f.isFile())
    .map((f) => join(f.parentPath ?? f.path, f.name))
    .sort()
  const hash = createHash('sha256')
  for (const file of files)
    hash
      .update(file.slice(SRC_DIR.length))
      .update('\0')
      .update(await readFile(file))
      .update('\0')
  return hash.digest('hex').slice(0, 12)
}
