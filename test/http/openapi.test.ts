import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { compileErrors, dereference, validate } from '@readme/openapi-parser'
import { Ajv2020 } from 'ajv/dist/2020.js'
import addFormatsModule from 'ajv-formats'
import { startTestApp, type TestApp } from '../helpers/app.ts'

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default
// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document, walked generically
type Json = Record<string, any>
interface Operation {
  method: string
  path: string
  op: Json
}

/** Every method and path the app answers, read from Fastify's own route tree (HEAD twins, Swagger UI's files and the dashboard page left out). */
function appRoutes(tree: string): string[] {
  const stack: string[] = []
  const routes: string[] = []
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.*?)(?: \(([^)]*)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    stack.length = depth
    stack.push(m[2]!)
    const path = stack.join('')
    for (const method of m[3]?.split(', ') ?? []) {
      const page =
        path === '/docs' ||
        path.startsWith('/docs/') ||
        path === '/' ||
        path.startsWith('/dashboard/')
      // OPTIONS * is the CORS preflight of the ingestion routes (src/web-intake/cors.ts), not an operation.
      const preflight = method === 'OPTIONS' && path === '*'
      if (method !== 'HEAD' && !page && !preflight) routes.push(`${method} ${path}`)
    }
  }
  return routes.sort()
}

function operations(doc: Json): Operation[] {
  return Object.entries(doc.paths as Json).flatMap(([path, item]) =>
    Object.entries(item as Json).map(([method, op]) => ({
      method: method.toUpperCase(),
      path,
      op: op as Json,
    })),
  )
}

// The service is closed, so a route that needs a key answers 401 without one.
const API_KEY = 'openapi-test-admin-key'
const AUTH = { authorization: `Bearer ${API_KEY}` }

describe('OpenAPI document and /docs (embedded, no servers)', () => {
  let t: TestApp
  let doc: Json
  let resolved: Json
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats(ajv)
  const check = (schema: object, value: unknown, where: string) => {
    const valid = ajv.validate(schema, value)
    assert.ok(valid, `${where}: ${ajv.errorsText(ajv.errors)}\n${JSON.stringify(value)}`)
  }

  before(async () => {
    t = await startTestApp({ queue: false, env: { API_KEY } })
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^application\/json/)
    doc = res.json()
    resolved = await dereference(structuredClone(doc) as Parameters<typeof dereference>[0])
  })
  after(async () => {
    await t?.close()
  })

  test('/openapi.json is a valid OpenAPI 3.1 document, the same one Swagger UI loads', async () => {
    const result = await validate(structuredClone(doc) as Parameters<typeof validate>[0])
    assert.ok(result.valid, result.valid ? '' : compileErrors(result))
    assert.equal(doc.openapi, '3.1.0')
    assert.equal(
      doc.info.version,
      (await import('../../package.json', { with: { type: 'json' } })).default.version,
    )
    assert.deepEqual(
      doc.tags.map((tag: Json) => tag.name),
      ['events', 'stats', 'users', 'projects', 'export', 'operations'],
    )
    assert.deepEqual((await t.app.inject({ method: 'GET', url: '/docs/json' })).json(), doc)
  })

  test('it documents every route the app registers, and nothing else', () => {
    const documented = operations(doc)
      .map(({ method, path }) => `${method} ${path.replace(/\{(\w+)\}/g, ':$1')}`)
      .sort()
    assert.deepEqual(documented, appRoutes(t.app.printRoutes({ commonPrefix: false })))
    for (const expected of [
      'POST /events',
      'GET /stats/dau',
      'GET /stats/top-events',
      'GET /stats/retention',
      'GET /users/:user_id',
      'GET /health',
      'GET /events/queue/status',
    ]) {
      assert.ok(documented.includes(expected), expected)
    }
  })

  test('a route is marked secured exactly when access control asks for a key, and documents what that brings', async () => {
    for (const { method, path, op } of operations(doc)) {
      const where = `${method} ${path}`
      const url = path.replace(/\{\w+\}/g, 'x')
      const secured =
        (await t.app.inject({ method: method as 'GET' | 'POST', url })).statusCode === 401
      assert.equal((op.security ?? []).length > 0, secured, `${where}: security`)
      if (!secured) continue
      assert.deepEqual(op.security, [{ bearerAuth: [] }, { apiKeyHeader: [] }], where)
      const takesInput = op.requestBody !== undefined || (op.parameters ?? []).length > 0
      for (const status of ['401', '403', '429', ...(takesInput ? ['422'] : [])]) {
        assert.ok(op.responses[status], `${where} documents ${status}`)
      }
    }
    assert.deepEqual(Object.keys(doc.components.securitySchemes).sort(), [
      'apiKeyHeader',
      'bearerAuth',
    ])
    assert.deepEqual(doc.components.securitySchemes.apiKeyHeader, {
      ...doc.components.securitySchemes.apiKeyHeader,
      type: 'apiKey',
      in: 'header',
      name: 'X-API-Key',
    })
  })

  test('every error is a Problem, and the ingest and stats routes document each status they can answer', () => {
    const statuses = (method: string, path: string) =>
      Object.keys(doc.paths[path][method].responses).sort()
    assert.deepEqual(statuses('post', '/events'), [
      '201',
      '202',
      '400',
      '401',
      '403',
      '404',
      '409',
      '413',
      '415',
      '422',
      '429',
      '500',
      '503',
    ])
    for (const path of ['/stats/dau', '/stats/top-events', '/stats/retention']) {
      assert.deepEqual(statuses('get', path), ['200', '401', '403', '404', '422', '429', '500'])
    }
    assert.deepEqual(statuses('get', '/events/queue/status'), [
      '200',
      '401',
      '403',
      '404',
      '422',
      '429',
      '500',
    ])
    assert.deepEqual(statuses('get', '/health'), ['200', '503'])
    for (const { method, path, op } of operations(doc)) {
      for (const [status, response] of Object.entries(op.responses as Json)) {
        if (Number(status) < 400 || path === '/health') continue
        assert.deepEqual(
          Object.keys(response.content),
          ['application/problem+json'],
          `${method} ${path} ${status}`,
        )
        assert.deepEqual(response.content['application/problem+json'].schema, {
          $ref: '#/components/schemas/Problem',
        })
      }
    }
  })

  test('every example validates against its own schema, and every response of a route has one', () => {
    let checked = 0
    const walk = (node: unknown, where: string): void => {
      if (Array.isArray(node)) {
        for (const [i, n] of node.entries()) walk(n, `${where}/${i}`)
        return
      }
      if (node === null || typeof node !== 'object') return
      const o = node as Json
      // Media and parameter objects: `example` or named `examples` next to `schema`.
      if (o.schema && typeof o.schema === 'object') {
        if ('example' in o) {
          check(o.schema, o.example, where)
          checked++
        }
        if (o.examples && !Array.isArray(o.examples)) {
          for (const [name, ex] of Object.entries(o.examples as Json)) {
            check(o.schema, ex.value, `${where} (${name})`)
            checked++
          }
        }
      }
      // JSON Schema 2020-12 `examples` arrays inside schemas.
      if (Array.isArray(o.examples) && ('type' in o || 'anyOf' in o)) {
        for (const ex of o.examples) {
          check(o, ex, where)
          checked++
        }
      }
      for (const [k, v] of Object.entries(o))
        if (k !== 'example' && k !== 'examples') walk(v, `${where}/${k}`)
    }
    walk(resolved, '#')
    assert.ok(checked >= 30, `only ${checked} examples checked`)

    for (const { method, path, op } of operations(resolved)) {
      if (path === '/openapi.json') continue // the document itself: no example needed
      for (const [status, response] of Object.entries(op.responses as Json)) {
        for (const [type, media] of Object.entries((response.content ?? {}) as Json)) {
          assert.ok(
            'example' in media || media.examples,
            `${method} ${path} ${status} ${type} has an example`,
          )
        }
      }
      if (op.requestBody)
        assert.ok(
          op.requestBody.content['application/json'].examples,
          `${method} ${path} request body example`,
        )
    }
  })

  test('what the routes answer matches what the document says (the serializer drops nothing)', async () => {
    const answers = [
      { url: '/health', status: 200 },
      { url: '/events/queue/status', status: 200 },
      { url: '/stats/dau?from=2026-11-01&to=2026-11-03', status: 200 },
      { url: '/stats/top-events?from=2026-11-01&to=2026-11-03', status: 200 },
      { url: '/stats/retention?start_date=2026-11-01', status: 200 },
      { url: '/stats/retention?start_date=2026-13-01&windows=99&extra=1', status: 422 },
    ]
    for (const { url, status } of answers) {
      const res = await t.app.inject({ method: 'GET', url, headers: AUTH })
      assert.equal(res.statusCode, status, url)
      const path = url.split('?')[0]!
      const type = String(res.headers['content-type']).split(';')[0]!
      check(resolved.paths[path].get.responses[status].content[type].schema, res.json(), url)
    }
    const res = await t.app.inject({
      method: 'POST',
      url: '/events',
      payload: [{ event_id: 'nope', user_id: '', extra: 1 }],
      headers: AUTH,
    })
    assert.equal(res.statusCode, 422)
    const body = res.json()
    check(
      resolved.paths['/events'].post.responses['422'].content['application/problem+json'].schema,
      body,
      'POST /events 422',
    )
    assert.deepEqual(Object.keys(body).sort(), [
      'code',
      'detail',
      'errors',
      'instance',
      'request_id',
      'status',
      'title',
      'type',
    ])
    assert.ok(
      body.errors.every(
        (e: Json) => e.index === 0 && typeof e.field === 'string' && typeof e.message === 'string',
      ),
    )
  })

  test('/docs serves Swagger UI from the package itself, with no external URL', async () => {
    for (const url of ['/docs', '/docs/']) {
      const res = await t.app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 200, url)
      assert.match(String(res.headers['content-type']), /^text\/html/)
      assert.ok(!/(https?:)?\/\/[a-z0-9.-]+\.[a-z]{2,}/i.test(res.body), `${url} links outside`)
      const assets = [...res.body.matchAll(/(?:src|href)="([^"]+)"/g)].map(
        (m) => new URL(m[1]!, `http://x${url}`).pathname,
      )
      assert.ok(assets.length >= 4)
      for (const asset of assets)
        assert.equal((await t.app.inject({ method: 'GET', url: asset })).statusCode, 200, asset)
    }
    // The initializer script holds the UI's configuration: no URL in it may point outside (a comment may).
    const init = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
    assert.ok(!/['"`]https?:\/\//.test(init.body), 'the initializer names no external URL')
    assert.match(init.body, /validatorUrl: null/, 'no badge fetched from the online validator')
  })
})
