import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { basic, COMPAT_MODES, type CompatApp, startCompatApp } from '../compat/compat-app.ts'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// /stats/paths on events worked out by hand (README, "Paths"). One day,
// 2026-03-02; every path below is written out beside its user.
const DAY = '2026-03-02'
let n = 0
const at = (time: string) => `${DAY}T${time}Z`
const E = (
  user: string,
  time: string,
  type: string,
  properties?: Record<string, unknown>,
  id = `2b000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
) => ({
  event_id: id,
  occurred_at: at(time),
  user_id: user,
  event_type: type,
  ...(properties ? { properties } : {}),
})
const page = (
  user: string,
  time: string,
  path: string,
  extra: Record<string, unknown> = {},
  id?: string,
) => E(user, time, 'page_view', { path, ...extra }, id)

const EVENTS = [
  // ann: / / /pricing signup /pricing, the repeat of / is one node
  page('ann', '10:00:00', '/'),
  page('ann', '10:01:00', '/'),
  page('ann', '10:02:00', '/pricing'),
  E('ann', '10:03:00', 'signup'),
  page('ann', '10:04:00', '/pricing'),
  // ben: / then /docs exactly 30 minutes later (one visit), then signup 30
  // minutes and 1 ms after /docs: a visit of its own
  page('ben', '11:00:00', '/'),
  page('ben', '11:30:00', '/docs'),
  E('ben', '12:00:00.001', 'signup'),
  // cat: a page view and a signup at one instant; the store orders them by
  // event_id (…a0 before …a1), so the signup comes first: signup / purchase
  page('cat', '13:00:00', '/', {}, '2b000000-0000-4000-8000-0000000000a1'),
  E('cat', '13:00:00', 'signup', undefined, '2b000000-0000-4000-8000-0000000000a0'),
  E('cat', '13:05:00', 'purchase'),
  // dan: / x /pricing, where only the page views carry src=ad
  page('dan', '14:00:00', '/', { src: 'ad' }),
  E('dan', '14:10:00', 'x'),
  page('dan', '14:20:00', '/pricing', { src: 'ad' }),
  // eve: a page view without a path (node page_view), then / twice
  E('eve', '15:00:00', 'page_view'),
  page('eve', '15:01:00', '/'),
  page('eve', '15:02:00', '/'),
  // fay: / /pricing in two visits, an hour apart
  page('fay', '16:00:00', '/'),
  page('fay', '16:01:00', '/pricing'),
  page('fay', '17:00:00', '/'),
  page('fay', '17:01:00', '/pricing'),
]

// The README's worked example, on the next day.
const README_DAY = '2026-03-03'
const R = (user: string, time: string, type: string, path?: string) => ({
  event_id: `2c000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  occurred_at: `${README_DAY}T${time}Z`,
  user_id: user,
  event_type: type,
  ...(path === undefined ? {} : { properties: { path } }),
})
const README_EVENTS = [
  R('ann', '09:00:00', 'page_view', '/'),
  R('ann', '09:01:00', 'page_view', '/'),
  R('ann', '09:02:00', 'page_view', '/pricing'),
  R('ann', '09:03:00', 'signup'),
  R('fay', '09:00:00', 'page_view', '/'),
  R('fay', '09:01:00', 'page_view', '/pricing'),
  R('fay', '10:00:00', 'page_view', '/'),
  R('fay', '10:01:00', 'page_view', '/pricing'),
  R('ben', '09:00:00', 'page_view', '/'),
  R('ben', '09:30:00.001', 'page_view', '/docs'),
]

const node = (step: number, name: string, users: number) => ({ step, name, users })
const edge = (step: number, from: string, to: string, users: number, events: number) => ({
  step,
  from,
  to,
  users,
  events,
})
const q = (params: string) => `/stats/paths?from=${DAY}&to=${DAY}&${params}`

const stores = [
  { name: 'embedded', server: false, skip: false as const },
  { name: 'PostgreSQL', server: true, skip: await skipUnless('postgres') },
]

for (const store of stores)
  describe(`paths on fixed data (${store.name})`, { skip: store.skip }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const ok = (url: string) => getOk(t.app, url)

    before(async () => {
      db = store.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: false })
      const res = await t.app.inject({
        method: 'POST',
        url: '/events',
        payload: [...EVENTS, ...README_EVENTS],
      })
      assert.equal(res.statusCode, 201, res.body)
      await t.deps.analytics!.catchUp()
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    test('from a page: repeats collapsed, the 30-minute edge, ties by event_id, visits per user', async () => {
      assert.deepEqual(await ok(q('start=page:/')), {
        nodes: [
          node(1, 'page:/', 6), // ann ben cat dan eve fay
          node(2, 'page:/pricing', 2), // ann fay
          node(2, 'page:/docs', 1),
          node(2, 'purchase', 1),
          node(2, 'x', 1),
          node(3, 'page:/pricing', 1), // dan
          node(3, 'signup', 1), // ann
          node(4, 'page:/pricing', 1), // ann
        ],
        transitions: [
          edge(1, 'page:/', 'page:/pricing', 2, 3), // fay twice, ann
          edge(1, 'page:/', 'page:/docs', 1, 1), // ben's signup is in another visit
          edge(1, 'page:/', 'purchase', 1, 1), // cat's signup came before her /
          edge(1, 'page:/', 'x', 1, 1),
          edge(2, 'page:/pricing', 'signup', 1, 1),
          edge(2, 'x', 'page:/pricing', 1, 1),
          edge(3, 'signup', 'page:/pricing', 1, 1),
        ],
      })
    })

    test('steps and limit cut the answer; nodes are those of the returned transitions', async () => {
      assert.deepEqual(await ok(q('start=page:/&limit=2')), {
        nodes: [node(1, 'page:/', 6), node(2, 'page:/pricing', 2), node(2, 'page:/docs', 1)],
        transitions: [
          edge(1, 'page:/', 'page:/pricing', 2, 3),
          edge(1, 'page:/', 'page:/docs', 1, 1),
        ],
      })
      assert.deepEqual((await ok(q('start=page:/&steps=2'))).transitions, [
        edge(1, 'page:/', 'page:/pricing', 2, 3),
        edge(1, 'page:/', 'page:/docs', 1, 1),
        edge(1, 'page:/', 'purchase', 1, 1),
        edge(1, 'page:/', 'x', 1, 1),
      ])
    })

    test('from the first occurrence of the start; an event type, and a page view without a path', async () => {
      assert.deepEqual(await ok(q('start=page:/pricing')), {
        nodes: [node(1, 'page:/pricing', 3), node(2, 'signup', 1), node(3, 'page:/pricing', 1)],
        transitions: [
          edge(1, 'page:/pricing', 'signup', 1, 1),
          edge(2, 'signup', 'page:/pricing', 1, 1),
        ],
      })
      assert.deepEqual(await ok(q('start=event:page_view')), {
        nodes: [node(1, 'page_view', 1), node(2, 'page:/', 1)],
        transitions: [edge(1, 'page_view', 'page:/', 1, 1)],
      })
      assert.deepEqual(await ok(q('start=event:nothing')), { nodes: [], transitions: [] })
    })

    test('end=: the nodes before the last occurrence, the end at step `steps`', async () => {
      // cat: signup and / at one instant, signup first by event_id
      assert.deepEqual(await ok(q('end=event:purchase&steps=3')), {
        nodes: [node(1, 'signup', 1), node(2, 'page:/', 1), node(3, 'purchase', 1)],
        transitions: [edge(1, 'signup', 'page:/', 1, 1), edge(2, 'page:/', 'purchase', 1, 1)],
      })
      // ann's signup, ben's second visit and cat's signup; only ann's has nodes before it
      assert.deepEqual(await ok(q('end=event:signup')), {
        nodes: [node(3, 'page:/', 1), node(4, 'page:/pricing', 1), node(5, 'signup', 3)],
        transitions: [
          edge(3, 'page:/', 'page:/pricing', 1, 1),
          edge(4, 'page:/pricing', 'signup', 1, 1),
        ],
      })
      // ann's last /pricing comes after her signup; fay's two visits are one user
      assert.deepEqual((await ok(q('end=page:/pricing&steps=2'))).transitions, [
        edge(1, 'page:/', 'page:/pricing', 1, 2),
        edge(1, 'signup', 'page:/pricing', 1, 1),
        edge(1, 'x', 'page:/pricing', 1, 1),
      ])
    })

    test('segment= filters form visits from the kept events only', async () => {
      assert.deepEqual(await ok(q('start=page:/&segment=properties.src:ad')), {
        nodes: [node(1, 'page:/', 1), node(2, 'page:/pricing', 1)],
        transitions: [edge(1, 'page:/', 'page:/pricing', 1, 1)], // dan's x is not kept
      })
      assert.deepEqual(await ok(q('start=page:/&segment=user_id:cat')), {
        nodes: [node(1, 'page:/', 1), node(2, 'purchase', 1)],
        transitions: [edge(1, 'page:/', 'purchase', 1, 1)],
      })
    })

    test("the README's worked example", async () => {
      const readme = (params: string) =>
        ok(`/stats/paths?from=${README_DAY}&to=${README_DAY}&${params}`)
      assert.deepEqual(await readme('start=page:/&steps=3'), {
        nodes: [node(1, 'page:/', 3), node(2, 'page:/pricing', 2), node(3, 'signup', 1)],
        transitions: [
          edge(1, 'page:/', 'page:/pricing', 2, 3),
          edge(2, 'page:/pricing', 'signup', 1, 1),
        ],
      })
      assert.deepEqual(await readme('end=event:signup&steps=3'), {
        nodes: [node(1, 'page:/', 1), node(2, 'page:/pricing', 1), node(3, 'signup', 1)],
        transitions: [
          edge(1, 'page:/', 'page:/pricing', 1, 1),
          edge(2, 'page:/pricing', 'signup', 1, 1),
        ],
      })
    })

    test('bad parameters are 422s naming each one', async () => {
      const errors = async (params: string) => {
        const res = await t.app.inject({ method: 'GET', url: q(params) })
        assert.equal(res.statusCode, 422, res.body)
        return res.json().errors
      }
      assert.deepEqual(await errors(''), [
        { field: 'start', message: 'is required (or end): event:<event_type> or page:<path>' },
      ])
      assert.deepEqual(await errors('start=page:/&end=event:buy'), [
        { field: 'end', message: 'give start or end, not both' },
      ])
      assert.deepEqual(await errors('start=home'), [
        { field: 'start', message: '"home": expected event:<event_type> or page:<path>' },
      ])
      assert.deepEqual(await errors('end=event:'), [
        { field: 'end', message: 'event:<event_type>, the type of 1 to 128 characters' },
      ])
      assert.deepEqual(
        (await errors('start=page:/&steps=11&limit=0')).map((e: { field: string }) => e.field),
        ['steps', 'limit'],
      )
      assert.deepEqual(await errors('start=page:/&start=page:/x'), [
        { field: 'start', message: 'may be given once: event:<event_type> or page:<path>' },
      ])
    })
  })

// An anonymous visitor who signs up: the identify links anon-1 to user-1, so
// the page view sent as anon-1 and the signup sent as user-1 are one visit.
for (const mode of COMPAT_MODES)
  describe(`paths across an identity merge (${mode.name})`, { skip: mode.skip }, () => {
    let c: CompatApp
    before(async () => {
      c = await startCompatApp(mode)
    })
    after(() => c?.close())

    test('the merged user is one user, and their events one visit', async () => {
      const send = async (path: string, body: object) => {
        const res = await c.post(path, { messageId: randomUUID(), ...body }, basic(c.writeKey))
        assert.equal(res.statusCode, 200, res.body)
      }
      await send('/v1/page', {
        anonymousId: 'anon-1',
        properties: { path: '/' },
        timestamp: at('08:00:00'),
      })
      await send('/v1/identify', {
        userId: 'user-1',
        anonymousId: 'anon-1',
        timestamp: at('08:05:00'),
      })
      await send('/v1/track', { userId: 'user-1', event: 'Signed Up', timestamp: at('08:10:00') })
      await c.waitEvents(2)
      await c.t.deps.analytics!.catchUp()
      assert.deepEqual(await c.read(q('start=page:/')), {
        nodes: [node(1, 'page:/', 1), node(2, 'Signed Up', 1)],
        transitions: [edge(1, 'page:/', 'Signed Up', 1, 1)],
      })
    })
  })
