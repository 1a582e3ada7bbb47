import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { ApiKeyStore } from '../../src/auth/api-keys.ts'
import { DEFAULT_PROJECT_ID } from '../../src/projects/project-store.ts'
import {
  basic,
  COMPAT_MODES,
  type CompatApp,
  startCompatApp,
  waitUsers,
} from '../compat/compat-app.ts'
import { waitFor } from '../helpers/events.ts'
import { DESKTOP_UA } from '../web/site.ts'

// From the deletion's request on, events of the deleted ids are refused at
// every intake (POST /events, Segment's /v1/batch, PostHog's /batch, the
// browser script's /collect), counted in the answer and the metric, and never
// stored; once an admin lifts the suppression they are taken again.

for (const mode of COMPAT_MODES) {
  describe(`suppression at every intake, ${mode.name}`, { skip: mode.skip }, () => {
    let c: CompatApp
    let admin = ''
    let adminId = ''
    let publicKey = ''
    /** one request per intake, each with one event of `gone` and one of `kept` */
    const intakes = {
      events: (gone: string, kept: string) =>
        c.post(
          '/events',
          [gone, kept].map((user_id) => ({
            event_id: randomUUID(),
            occurred_at: '2026-11-05T10:00:00.000Z',
            user_id,
            event_type: 'view',
          })),
          { 'x-api-key': c.writeKey, 'content-type': 'application/json' },
        ),
      segment: (gone: string, kept: string) =>
        c.post(
          '/v1/batch',
          {
            batch: [gone, kept].map((userId) => ({
              type: 'track',
              event: 'view',
              userId,
              messageId: randomUUID(),
            })),
          },
          basic(c.writeKey),
        ),
      posthog: (gone: string, kept: string) =>
        c.post('/batch', {
          api_key: c.writeKey,
          batch: [gone, kept].map((distinct_id) => ({
            event: 'view',
            distinct_id,
            uuid: randomUUID(),
            timestamp: '2026-11-05T10:00:00.000Z',
          })),
        }),
      collect: (gone: string, kept: string) =>
        c.post(
          '/collect',
          JSON.stringify({
            key: publicKey,
            messages: [gone, kept].map((user_id) => ({
              type: 'event',
              event_id: randomUUID(),
              timestamp: Date.now(),
              event_type: 'page_view',
              user_id,
              properties: { path: '/' },
            })),
          }),
          { 'content-type': 'text/plain', 'user-agent': DESKTOP_UA },
        ),
    }
    const storedOf = async (user: string) =>
      (await c.events()).filter((e) => e.user_id === user).length

    before(async () => {
      c = await startCompatApp(mode)
      const keys = new ApiKeyStore(c.t.deps.db)
      const made = await keys.create('admin', 'ops', DEFAULT_PROJECT_ID)
      admin = made.key
      adminId = made.info.id
      publicKey = (await keys.create('public', 'page', DEFAULT_PROJECT_ID)).key
    })
    after(async () => {
      await c?.close()
    })

    test('only an admin may delete a user', async () => {
      const res = await c.t.app.inject({
        method: 'DELETE',
        url: '/users/gone',
        headers: { 'x-api-key': c.writeKey },
      })
      assert.equal(res.statusCode, 403, res.body)
    })

    test('every intake refuses the deleted id, counts it, and stores the rest', async () => {
      const del = await c.t.app.inject({
        method: 'DELETE',
        url: '/users/gone',
        headers: { 'x-api-key': admin },
      })
      assert.equal(del.statusCode, 202, del.body)
      assert.equal(del.json().requested_by, adminId)
      assert.deepEqual(del.json().ids, ['gone'])
      for (const [name, send] of Object.entries(intakes)) {
        const res = await send('gone', `kept-${name}`)
        assert.equal(res.statusCode < 300, true, `${name}: ${res.body}`)
        assert.equal(res.json().suppressed, 1, `${name}: ${res.body}`)
        if (name === 'events') assert.equal(res.json().inserted, 1)
        else assert.equal(res.json().events, 1, `${name}: ${res.body}`)
        await waitUsers(c, `kept-${name}`, 1)
      }
      assert.equal(await storedOf('gone'), 0)
      assert.equal(await c.metric('ea_events_suppressed_total', {}), 4)
    })

    test('identify and alias calls naming the deleted id are not recorded, and are counted; others are', async () => {
      const res = await c.post(
        '/v1/batch',
        {
          batch: [
            { type: 'identify', userId: 'gone', traits: { email: 'gone@example.com' } },
            { type: 'alias', previousId: 'gone', userId: 'gone-again' },
            { type: 'identify', userId: 'kept-identity', traits: { plan: 'pro' } },
          ].map((m) => ({ ...m, messageId: randomUUID() })),
        },
        basic(c.writeKey),
      )
      assert.equal(res.statusCode, 200, res.body)
      assert.equal(res.json().suppressed, 2, res.body)
      assert.equal(res.json().identities, 1, res.body)
      const { rows } = await c.t.deps.db.query<{ user_id: string }>(
        'SELECT user_id FROM identity_messages ORDER BY user_id',
      )
      assert.deepEqual(rows, [{ user_id: 'kept-identity' }])
      assert.equal(await c.metric('ea_identity_calls_suppressed_total', {}), 2)
    })

    test('lifted by an admin, the id is taken again at every intake', async () => {
      const forbidden = await c.t.app.inject({
        method: 'DELETE',
        url: '/suppressions/gone',
        headers: { 'x-api-key': c.writeKey },
      })
      assert.equal(forbidden.statusCode, 403, forbidden.body)
      // The store's part must be done before the id may come back.
      const { rows } = await c.t.deps.db.query<{ id: string }>('SELECT id::text FROM deletions')
      await waitForDone(c, rows[0]!.id, admin)
      const lifted = await c.t.app.inject({
        method: 'DELETE',
        url: '/suppressions/gone',
        headers: { 'x-api-key': admin },
      })
      assert.equal(lifted.statusCode, 200, lifted.body)
      for (const [name, send] of Object.entries(intakes)) {
        const res = await send('gone', `again-${name}`)
        assert.equal(res.json().suppressed, undefined, `${name}: ${res.body}`)
        await waitUsers(c, `again-${name}`, 1)
      }
      await waitUsers(c, 'gone', 4)
      assert.equal(await c.metric('ea_events_suppressed_total', {}), 4)
      const audit = (await c.t.deps.deletions.audit(DEFAULT_PROJECT_ID)).map((a) => [
        a.action,
        a.actor,
        a.ids,
        a.events,
      ])
      assert.deepEqual(audit, [
        ['deletion_requested', adminId, ['gone'], null],
        ['deletion_done', 'deletion-runner', ['gone'], 0],
        ['suppression_lifted', adminId, ['gone'], null],
      ])
    })
  })
}

async function waitForDone(c: CompatApp, id: string, admin: string): Promise<void> {
  await waitFor(
    'the deletion done',
    async () =>
      (await c.t.app.inject({ url: `/deletions/${id}`, headers: { 'x-api-key': admin } })).json(),
    (d) => d.state === 'done',
  )
}
