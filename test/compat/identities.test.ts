import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { basic, COMPAT_MODES, type CompatApp, startCompatApp } from './compat-app.ts'

// The identity rules on hand-checked cases, through the real endpoints:
// merges counted from the first anonymous event, conflicts and ids never
// linked kept as warnings, profiles with $set / $set_once by event time
// whatever the arrival order, and user.<trait> filters.

const DAY = '2026-09-07'
const at = (hh: string) => `${DAY}T${hh}:00:00.000Z`

for (const mode of COMPAT_MODES) {
  describe(`identities and profiles: ${mode.name}`, { skip: mode.skip }, () => {
    let c: CompatApp
    let stored = 0
    before(async () => {
      c = await startCompatApp(mode)
    })
    after(() => c?.close())

    const segment = async (path: string, body: object) => {
      const res = await c.post(path, { messageId: randomUUID(), ...body }, basic(c.writeKey))
      assert.equal(res.statusCode, 200, res.body)
      return res.json()
    }
    const track = async (userId: string, event: string, hour: string) => {
      await segment('/v1/track', { userId, event, timestamp: at(hour) })
      stored += 1
    }
    const settle = async () => {
      await c.waitEvents(stored)
      await c.t.deps.analytics!.catchUp()
    }
    const dau = async (segment = '') =>
      (await c.read(`/stats/dau?from=${DAY}&to=${DAY}${segment}`))[0].unique_users as number

    test('an anonymous visitor who signs up is one user from the first anonymous event', async () => {
      await segment('/v1/page', { anonymousId: 'anon-1', name: 'Home', timestamp: at('08') })
      await segment('/v1/page', { anonymousId: 'anon-1', name: 'Pricing', timestamp: at('09') })
      stored += 2
      await track('someone-else', 'view', '09')
      await settle()
      await c.t.deps.analytics!.fold() // the anonymous user's bits are in folded bitmaps now
      assert.equal(await dau(), 2)

      await segment('/v1/identify', {
        userId: 'user-1',
        anonymousId: 'anon-1',
        traits: { plan: 'pro', email: 'one@example.com' },
        timestamp: at('10'),
      })
      await track('user-1', 'Signed Up', '10')
      await settle()
      assert.equal(await dau(), 2, 'anon-1 and user-1 are one person')
      const top = await c.read(`/stats/top-events?from=${DAY}&to=${DAY}`)
      assert.deepEqual(
        top.map((r: { event_type: string; unique_users: number }) => [
          r.event_type,
          r.unique_users,
        ]),
        [
          ['page_view', 1],
          ['Signed Up', 1],
          ['view', 1],
        ],
      )

      // Funnels too: the anonymous page view is step 1, the signed-up event step 2.
      const funnel = await c.read(
        `/stats/funnel?from=${DAY}&to=${DAY}&steps=page_view&steps=${encodeURIComponent('Signed Up')}`,
      )
      assert.deepEqual(
        funnel.steps.map((s: { users: number }) => s.users),
        [1, 1],
      )

      const profile = await c.read('/users/anon-1')
      assert.deepEqual(profile, {
        user_id: 'user-1',
        ids: ['anon-1', 'user-1'],
        identified: true,
        traits: { email: 'one@example.com', plan: 'pro' },
        groups: {},
        first_seen: '2026-09-07T08:00:00.000000Z',
        last_seen: '2026-09-07T10:00:00.000000Z',
        event_count: 3,
        recent_events: [
          { event_type: 'Signed Up', occurred_at: '2026-09-07T10:00:00.000000Z', properties: {} },
          {
            event_type: 'page_view',
            occurred_at: '2026-09-07T09:00:00.000000Z',
            properties: { name: 'Pricing' },
          },
          {
            event_type: 'page_view',
            occurred_at: '2026-09-07T08:00:00.000000Z',
            properties: { name: 'Home' },
          },
        ],
      })
      assert.deepEqual(await c.read('/users/user-1'), profile)
      const missing = await c.t.app.inject({
        url: '/users/nobody',
        headers: { 'x-api-key': c.readKey },
      })
      assert.equal(missing.statusCode, 404)
      assert.equal(missing.json().code, 'USER_NOT_FOUND')
    })

    test('identified users are never merged, nor ids like "undefined": each a warning', async () => {
      await track('user-2', 'view', '11')
      await segment('/v1/identify', { userId: 'user-2', traits: {} })
      // anon-1 belongs to user-1, identified: not merged into user-2.
      const conflict = randomUUID()
      await segment('/v1/identify', {
        userId: 'user-2',
        anonymousId: 'anon-1',
        messageId: conflict,
      })
      // Both identified: an alias does not merge them either.
      const aliased = randomUUID()
      await segment('/v1/alias', { previousId: 'user-1', userId: 'user-2', messageId: aliased })
      const never = randomUUID()
      await track('undefined', 'view', '11')
      await segment('/v1/identify', {
        userId: 'user-3',
        anonymousId: 'undefined',
        messageId: never,
      })
      await track('user-3', 'view', '12')
      await settle()
      assert.equal((await c.read('/users/user-2')).ids.join(), 'user-2')
      assert.equal((await c.read('/users/anon-1')).user_id, 'user-1')
      assert.equal((await c.read('/users/undefined')).user_id, 'undefined')
      // someone-else, user-1 (with anon-1), user-2, undefined, user-3
      assert.equal(await dau(), 5)

      const { warnings } = await c.read('/events/warnings')
      const byId = new Map(warnings.map((w: { message_id: string }) => [w.message_id, w] as const))
      for (const [id, reason, field] of [
        [conflict, 'identity_conflict', 'anonymous_id'],
        [aliased, 'identity_conflict', 'previous_id'],
        [never, 'id_not_mergeable', 'anonymous_id'],
      ]) {
        const w = byId.get(id) as { reason: string; errors: Array<{ field: string }> } | undefined
        assert.ok(w, `a warning for ${reason}`)
        assert.equal(w.reason, reason)
        assert.equal(w.errors[0]!.field, field)
      }
    })

    test('$set: the last by event time wins; $set_once: the first; whatever the arrival order', async () => {
      const capture = async (event: string, hour: string, properties: object) => {
        const res = await c.post('/batch', {
          api_key: c.writeKey,
          batch: [
            {
              event,
              distinct_id: 'ph-1',
              uuid: randomUUID(),
              timestamp: at(hour),
              properties,
            },
          ],
        })
        assert.equal(res.statusCode, 200, res.body)
        stored += 1
      }
      await capture('view', '14', { $set: { plan: 'team' }, $set_once: { first_seen_plan: 'b' } })
      await capture('view', '13', { $set: { plan: 'free' }, $set_once: { first_seen_plan: 'a' } })
      await capture('view', '15', { $set_once: { plan: 'enterprise', source: 'ads' } })
      await settle()
      assert.deepEqual((await c.read('/users/ph-1')).traits, {
        first_seen_plan: 'a',
        plan: 'team',
        source: 'ads',
      })
    })

    test('user.<trait> filters and breakdowns read the current traits, merged users included', async () => {
      await segment('/v1/group', { userId: 'user-3', groupId: 'acme' })
      await segment('/v1/identify', { userId: 'user-3', traits: { plan: 'pro', seats: 5 } })
      await settle()
      assert.deepEqual((await c.read('/users/user-3')).groups, { group: 'acme' })
      // user-1 (pro, with anon-1's page views) and user-3 (pro)
      assert.equal(await dau('&segment=user.plan:pro'), 2)
      assert.equal(await dau('&segment=user.seats:gte:5'), 1)
      assert.equal(await dau('&segment=user.plan:exists'), 3) // user-1, user-3, ph-1
      // ne keeps users without the trait: someone-else, user-2, undefined, ph-1 (team)
      assert.equal(await dau('&segment=user.plan:ne:pro'), 4)
      const breakdown = await c.read(`/stats/breakdown?from=${DAY}&to=${DAY}&by=user.plan`)
      assert.deepEqual(
        breakdown.values.map((v: { value: unknown; count: number; unique_users: number }) => [
          v.value,
          v.count,
          v.unique_users,
        ]),
        [
          ['pro', 4, 2],
          ['team', 3, 1],
        ],
      )
      // a funnel broken down by the trait: user-1 and user-3 are pro, someone-else has no plan
      await track('user-1', 'f1', '12')
      await track('user-3', 'f1', '12')
      await track('user-3', 'f2', '13')
      await track('someone-else', 'f1', '12')
      await settle()
      const funnel = await c.read(
        `/stats/funnel?from=${DAY}&to=${DAY}&steps=f1&steps=f2&breakdown=user.plan`,
      )
      const users = (steps: Array<{ users: number }>) => steps.map((s) => s.users)
      assert.deepEqual(users(funnel.steps), [3, 1])
      assert.equal(funnel.breakdown.by, 'user.plan')
      assert.deepEqual(
        funnel.breakdown.values.map((v: { value: unknown; steps: Array<{ users: number }> }) => [
          v.value,
          users(v.steps),
        ]),
        [['pro', [2, 1]]],
      )
      assert.deepEqual(users(funnel.breakdown.not_set.steps), [1, 0])
      const bad = await c.t.app.inject({
        url: `/stats/dau?from=${DAY}&to=${DAY}&segment=user.a.b:x`,
        headers: { 'x-api-key': c.readKey },
      })
      assert.equal(bad.statusCode, 422)
      assert.equal(bad.json().errors[0].field, 'segment')
    })
  })
}
