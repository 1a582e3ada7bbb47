import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { DESKTOP_UA } from './site.ts'

// Public keys, the per-IP bucket and CORS over HTTP (embedded; the browser
// suite, script.test.ts, drives the same through Chromium).

const ADMIN = 'public-keys-test-admin-key'

describe('public keys and CORS (embedded)', () => {
  let t: TestApp
  let key: string
  const collect = (remoteAddress: string, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/collect',
      remoteAddress,
      headers: { 'content-type': 'text/plain', 'user-agent': DESKTOP_UA, ...headers },
      payload: JSON.stringify({
        key,
        messages: [
          {
            type: 'event',
            event_id: randomUUID(),
            timestamp: Date.now(),
            event_type: 'page_view',
            properties: { path: '/' },
          },
        ],
      }),
    })

  before(async () => {
    t = await startTestApp({
      queue: false,
      env: { API_KEY: ADMIN, PUBLIC_RATE_LIMIT_REQUESTS: '3', PUBLIC_RATE_LIMIT_PERIOD: '3600' },
    })
    const project = await t.deps.projects.create('site')
    key = (await t.deps.apiKeys.create('public', 'page', project.id)).key
  })
  after(() => t?.close())

  test('a public key is limited per client address: one address past its bucket does not stop another', async () => {
    const statuses = []
    for (let i = 0; i < 4; i++) statuses.push((await collect('203.0.113.7')).statusCode)
    assert.deepEqual(statuses, [200, 200, 200, 429])
    const refused = await collect('203.0.113.7')
    assert.equal(refused.json().code, 'RATE_LIMITED')
    assert.equal(refused.headers['x-ratelimit-limit'], '3')
    assert.equal((await collect('198.51.100.9')).statusCode, 200)
  })

  test('a public key on a read or admin route is 403 with the problem body', async () => {
    for (const url of ['/stats/dau?from=2026-01-01&to=2026-01-02', '/events/queue/status']) {
      const res = await t.app.inject({ url, headers: { 'x-api-key': key } })
      assert.equal(res.statusCode, 403, url)
      assert.equal(res.json().code, 'FORBIDDEN')
      assert.equal(res.json().detail, "this key's scope is public; the route needs read")
    }
  })

  test('preflights: answered on ingestion routes, 404 on the read API; no credentials anywhere', async () => {
    for (const url of ['/collect', '/events', '/batch/', '/v1/track']) {
      const res = await t.app.inject({
        method: 'OPTIONS',
        url,
        headers: {
          origin: 'https://a.example',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type',
        },
      })
      assert.equal(res.statusCode, 204, url)
      assert.equal(res.headers['access-control-allow-origin'], 'https://a.example')
      assert.equal(res.headers['access-control-allow-headers'], 'content-type')
      assert.equal(res.headers['access-control-allow-credentials'], undefined)
    }
    const read = await t.app.inject({
      method: 'OPTIONS',
      url: '/stats/dau',
      headers: { origin: 'https://a.example' },
    })
    assert.equal(read.statusCode, 404)
    const stats = await t.app.inject({
      url: '/stats/dau?from=2026-01-01&to=2026-01-02&project=site',
      headers: { origin: 'https://a.example', authorization: `Bearer ${ADMIN}` },
    })
    assert.equal(stats.statusCode, 200)
    assert.equal(stats.headers['access-control-allow-origin'], undefined)
  })

  test("a project's origins: another page's request is 403 without CORS headers and stores nothing", async () => {
    await t.deps.projects.setWeb('site', { allowed_origins: ['https://shop.example'] })
    const before = await t.count()
    const res = await collect('192.0.2.1', { origin: 'https://other.example' })
    assert.equal(res.statusCode, 403)
    assert.equal(res.json().code, 'ORIGIN_NOT_ALLOWED')
    assert.equal(
      res.json().detail,
      'pages of https://other.example may not send events to project "site"; its allowed origins are https://shop.example (npm run projects -- origins)',
    )
    assert.equal(res.headers['access-control-allow-origin'], undefined)
    assert.equal(await t.count(), before)
    const ok = await collect('192.0.2.2', { origin: 'https://shop.example' })
    assert.equal(ok.statusCode, 200)
    assert.equal(ok.headers['access-control-allow-origin'], 'https://shop.example')
    assert.equal(await t.count(), before + 1)
  })
})
