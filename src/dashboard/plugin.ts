import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import type { FastifyPluginAsync } from 'fastify'
import { AppError } from '../errors.ts'

// The dashboard page (web/) is TypeScript: esbuild bundles it, with uPlot and
// the CSS, into memory on the first request, so `npm start` serves it with no
// build step and no network. Files are named by their content's hash: the page
// is revalidated on every visit, the files it names are cached for good.
const WEB = fileURLToPath(new URL('../../web/', import.meta.url))

interface Asset {
  body: Buffer
  type: string
}

interface Bundle {
  page: string
  assets: Map<string, Asset>
}

// Only what the page itself serves: no inline script or style, no other origin.
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

async function bundle(): Promise<Bundle> {
  const result = await build({
    entryPoints: [`${WEB}main.ts`],
    bundle: true,
    write: false,
    outdir: 'out',
    format: 'esm',
    target: ['chrome109', 'firefox115', 'safari16'],
    minify: true,
    logLevel: 'silent',
  })
  const assets = new Map<string, Asset>()
  const names: Record<string, string> = {}
  for (const file of result.outputFiles) {
    const ext = file.path.endsWith('.css') ? 'css' : 'js'
    const hash = createHash('sha256').update(file.contents).digest('hex').slice(0, 12)
    names[ext] = `app.${hash}.${ext}`
    assets.set(names[ext], {
      body: Buffer.from(file.contents),
      type: ext === 'css' ? 'text/css; charset=utf-8' : 'text/javascript; charset=utf-8',
    })
  }
  const template = await readFile(`${WEB}index.html`, 'utf8')
  return { page: template.replace('{{js}}', names.js!).replace('{{css}}', names.css!), assets }
}

export const dashboardPlugin: FastifyPluginAsync = async (app) => {
  let built: Promise<Bundle> | undefined
  // Built once; a failed build is tried again on the next request rather than kept.
  const get = () => {
    built ??= bundle().catch((err: unknown) => {
      built = undefined
      throw err
    })
    return built
  }

  // Not API: left out of the OpenAPI document. Open: the page and its files hold
  // no data; the page asks the user for a key to read any.
  app.get('/', { config: { scope: 'open' }, schema: { hide: true } }, async (_request, reply) => {
    const { page } = await get()
    return reply
      .type('text/html; charset=utf-8')
      .header('cache-control', 'no-cache')
      .header('content-security-policy', CSP)
      .send(page)
  })

  app.get<{ Params: { file: string } }>(
    '/dashboard/:file',
    { config: { scope: 'open' }, schema: { hide: true } },
    async (request, reply) => {
      const asset = (await get()).assets.get(request.params.file)
      if (!asset) throw new AppError(404, 'NOT_FOUND', `no dashboard file ${request.params.file}`)
      return reply
        .type(asset.type)
        .header('cache-control', 'public, max-age=31536000, immutable')
        .send(asset.body)
    },
  )
}
