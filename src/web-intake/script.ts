import { createHash } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

// The browser script (web/script/main.ts) is TypeScript, bundled by esbuild in
// memory on first request, as the dashboard is (src/dashboard/plugin.ts): no
// build step, no network. Old browsers matter here (it is in every page of a
// site), so the target is older than the dashboard's.
const ENTRY = fileURLToPath(new URL('../../web/script/main.ts', import.meta.url))

export interface Script {
  body: Buffer
  /** a strong validator of the body: a new build is a new ETag */
  etag: string
}

export async function buildScript(): Promise<Script> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    write: false,
    format: 'iife',
    target: ['es2017'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  })
  const body = Buffer.from(result.outputFiles[0]!.contents)
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
  return { body, etag }
}
