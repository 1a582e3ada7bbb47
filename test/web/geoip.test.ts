import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { DESKTOP_UA } from './site.ts'
import { tinyCountryDb } from './tiny-mmdb.ts'

// GEOIP_DB: browser events get `country` from the operator's MaxMind file
// (here a one-node database written by hand that puts every address in DE).

let t: TestApp
let dir: string
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ea-geoip-'))
  writeFileSync(join(dir, 'country.mmdb'), tinyCountryDb('DE'))
  t = await startTestApp({ queue: false, env: { GEOIP_DB: join(dir, 'country.mmdb') } })
})
after(async () => {
  await t?.close()
  rmSync(dir, { recursive: true, force: true })
})

test('with GEOIP_DB, /collect events carry the country of the client address; the address is not stored', async () => {
  const res = await t.app.inject({
    method: 'POST',
    url: '/collect',
    remoteAddress: '203.0.113.50',
    headers: { 'content-type': 'text/plain', 'user-agent': DESKTOP_UA },
    payload: JSON.stringify({
      messages: [
        {
          type: 'event',
          event_id: randomUUID(),
          timestamp: Date.now(),
          event_type: 'page_view',
          properties: { path: '/', referrer: '' },
        },
      ],
    }),
  })
  assert.equal(res.statusCode, 200, res.body)
  const { rows } = await t.deps.db.query<{ properties: Record<string, unknown>; row: string }>(
    'SELECT properties, row_to_json(events)::text AS row FROM events',
  )
  assert.deepEqual(rows[0]!.properties, {
    path: '/',
    referrer: '',
    referrer_host: '',
    browser: 'Chrome',
    os: 'Linux',
    device: 'desktop',
    country: 'DE',
  })
  assert.ok(!rows[0]!.row.includes('203.0.113.50'), 'the client address is not stored')
})
