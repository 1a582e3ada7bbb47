import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { ApiKeyStore } from '../../src/auth/api-keys.ts'
import { basic, COMPAT_MODES, type CompatApp, startCompatApp } from './compat-app.ts'

// GET /events/warnings: the SDK messages refused one by one, per project,
// bounded by count (1,000) and age (7 days).

const noUser = (n: number) => ({ type: 'track', event: 'w', messageId: `w-${n}` })

for (const mode of COMPAT_MODES) {
  describe(`ingestion warnings: ${mode.name}`, { skip: mode.skip }, () => {
    let c: CompatApp
    before(async () => {
      c = await startCompatApp(mode)
    })
    after(() => c?.close())
    const stored = async () =>
      (await c.t.deps.db.query<{ n: number }>('SELECT count(*)::int AS n FROM ingestion_warnings'))
        .rows[0]!.n
    const get = (url: string, key?: string) =>
      c.t.app.inject({ method: 'GET', url, headers: key ? { 'x-api-key': key } : {} })

    test('a read key of the project reads them; a write key is 403, none 401; limit is checked', async () => {
      await c.post('/v1/batch', { batch: [noUser(1)] }, basic(c.writeKey))
      assert.equal((await get('/events/warnings', c.readKey)).statusCode, 200)
      assert.equal((await get('/events/warnings', c.writeKey)).statusCode, 403)
      assert.equal((await get('/events/warnings')).statusCode, 401)
      for (const limit of ['0', '1001', 'x']) {
        const res = await get(`/events/warnings?limit=${limit}`, c.readKey)
        assert.equal(res.statusCode, 422, limit)
        assert.equal(res.json().errors[0].field, 'limit')
      }
      const one = await c.read('/events/warnings?limit=1')
      assert.equal(one.project, 'default')
      assert.equal(one.warnings.length, 1)
      assert.deepEqual(Object.keys(one.warnings[0]).sort(), [
        'errors',
        'id',
        'index',
        'message',
        'message_id',
        'reason',
        'received_at',
        'request_id',
        'source',
      ])
    })

    test('each project sees its own only', async () => {
      const shop = await c.t.deps.projects.create('shop')
      const keys = new ApiKeyStore(c.t.deps.db)
      const shopWrite = (await keys.create('write', 'shop sdk', shop.id)).key
      const shopRead = (await keys.create('read', 'shop', shop.id)).key
      const res = await c.post('/e/', {
        api_key: shopWrite,
        batch: [{ event: 'x', uuid: '01890000-0000-7000-8000-00000000aaaa' }],
      })
      assert.equal(res.json().rejected, 1)
      const theirs = (await get('/events/warnings', shopRead)).json()
      assert.deepEqual(
        theirs.warnings.map((w: Record<string, unknown>) => [w.source, w.reason, w.message_id]),
        [['posthog', 'no_user', '01890000-0000-7000-8000-00000000aaaa']],
      )
      assert.equal(theirs.project, 'shop')
      const ours = await c.read('/events/warnings?limit=1000')
      assert.ok(ours.warnings.every((w: { source: string }) => w.source === 'segment'))
    })

    test('the newest 1,000 of a project are kept, newest first', async () => {
      await c.t.deps.db.query('DELETE FROM ingestion_warnings')
      for (const start of [0, 505]) {
        const batch = Array.from({ length: 505 }, (_, i) => noUser(1000 + start + i))
        const res = await c.post('/v1/batch', { batch }, basic(c.writeKey))
        assert.equal(res.json().rejected, 505)
      }
      // The shop project's (none here now) would not count against these.
      assert.equal(await stored(), 1000)
      const listed = (await c.read('/events/warnings?limit=1000')).warnings
      assert.equal(listed.length, 1000)
      // The last request's last message first; the first request's first ten are gone.
      assert.deepEqual(listed[0].message, noUser(2009))
      assert.deepEqual(listed[999].message, noUser(1010))
      assert.deepEqual((await c.read('/events/warnings')).warnings.length, 100)
    })

    test('nothing older than 7 days is listed, and the next warning removes it', async () => {
      await c.t.deps.db.query(
        `UPDATE ingestion_warnings SET received_at = now() - interval '8 days'
         WHERE id IN (SELECT id FROM ingestion_warnings ORDER BY id LIMIT 400)`,
      )
      assert.equal((await c.read('/events/warnings?limit=1000')).warnings.length, 600)
      assert.equal(await stored(), 1000)
      await c.post('/v1/batch', { batch: [noUser(5000)] }, basic(c.writeKey))
      assert.equal(await stored(), 601)
    })

    test('a message too large to keep whole keeps its first 4 KiB', async () => {
      const big = {
        event: 'big',
        distinct_id: 'u',
        uuid: '01890000-0000-7000-8000-00000000bbbb',
        properties: { pad: 'p'.repeat(40 * 1024) },
      }
      const res = await c.post('/batch', { api_key: c.writeKey, batch: [big] })
      assert.equal(res.json().rejected, 1)
      const [w] = (await c.read('/events/warnings?limit=1')).warnings
      assert.equal(w.reason, 'invalid_properties')
      assert.deepEqual(w.errors, [
        { field: 'properties', message: 'must be at most 16384 bytes as JSON' },
      ])
      assert.equal(w.message, null)
      assert.equal(w.message_start, JSON.stringify(big).slice(0, 4096))
    })
  })
}
