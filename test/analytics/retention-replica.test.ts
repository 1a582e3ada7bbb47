import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { EventInput } from '../../src/events/event-schema.ts'
import { getOk, startServerTestApp, startTestApp, type TestApp } from '../helpers/app.ts'
import { makeEvent, waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'
import { referenceFunnel } from '../stats/funnel-reference.ts'
import { referenceActiveUsers, referenceLifecycle } from '../stats/insights-reference.ts'
import {
  addDays,
  dedupe,
  type ReferenceEvent,
  referenceDau,
  referenceRetention,
  referenceTopEvents,
  utcDay,
} from '../stats/reference.ts'
import { matchesAll, referenceBreakdown } from '../stats/reference-segment.ts'
import { referenceTrends } from '../stats/trends-reference.ts'

// A project's retention, as its replica honours it by itself: whatever
// PostgreSQL still holds (here everything: the store's sweep looks once a
// day, by the real clock, and first before any retention is set), every
// figure over the whole range equals the reference computed on the events
// on or after the cut only; when the clock passes midnight the days it
// leaves behind go; events older than the cut posted later never appear.

const MODES = [
  { name: 'embedded (PGlite + DuckDB)', server: false, skip: false as const, status: 201 },
  {
    name: 'server (PostgreSQL + Redis queue + worker)',
    server: true,
    skip: await skipUnless('postgres', 'redis'),
    status: 202,
  },
]

// 90 days over August, September and October; the clock starts the day after.
const FROM = '2026-08-01'
const TO = '2026-10-29'
const DAYS = 90
const RETENTION_DAYS = 33
// 2026-10-30 minus 33 days, then 6 days later: the cut passes a month boundary.
const FIRST_CUT = '2026-09-27'
const SECOND_CUT = '2026-10-03'
const TYPES = ['page_view', 'search', 'signup', 'purchase']
const SWEEP_DAILY = { RETENTION_SWEEP_MS: String(86_400_000) }
const DAY_MS = 86_400_000
const PLANS = ['free', 'pro', 'team']

/** A small seeded generator, so a failure is the same on every run. */
function random(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/**
 * 300 users: the first 100 active only before the cuts, the next 100 over
 * the whole range (before and after), the last 100 only after.
 */
function fixture(): EventInput[] {
  const next = random(19)
  const events: EventInput[] = []
  for (let u = 0; u < 300; u++) {
    const [first, last] = u < 100 ? [0, 50] : u < 200 ? [0, DAYS - 1] : [65, DAYS - 1]
    const plan = PLANS[u % PLANS.length]!
    const count = 4 + Math.floor(next() * 8)
    for (let k = 0; k < count; k++) {
      const day = addDays(FROM, first + Math.floor(next() * (last - first + 1)))
      const minute = Math.floor(next() * 1440)
      const time = `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`
      events.push(
        makeEvent({
          user_id: `u${u}`,
          event_type: TYPES[Math.floor(next() * TYPES.length)]!,
          occurred_at: `${day}T${time}:00.000Z`,
          properties: { plan, n: k },
        }),
      )
    }
  }
  return events
}

const keptFrom = (events: readonly ReferenceEvent[], cut: string) =>
  events.filter((e) => utcDay(e.occurred_at) >= cut)

const all = () => true
const pro = [{ field: ['plan'], op: 'eq' as const, values: ['pro'] }]

/** Each figure's URL over the whole range, and what it must answer on `kept` events. */
function figures(kept: readonly ReferenceEvent[]): Array<[string, unknown]> {
  const weeks = Math.floor((DAYS - 1) / 7) + 1
  return [
    [`/stats/dau?from=${FROM}&to=${TO}`, referenceDau(kept, FROM, TO)],
    [
      `/stats/dau?from=${FROM}&to=${TO}&segment=${encodeURIComponent('properties.plan:eq:pro')}`,
      referenceDau(dedupe(kept).filter(matchesAll(pro)), FROM, TO),
    ],
    [`/stats/top-events?from=${FROM}&to=${TO}&limit=10`, referenceTopEvents(kept, FROM, TO, 10)],
    [`/stats/retention?start_date=${FIRST_CUT}&windows=4`, referenceRetention(kept, FIRST_CUT, 4)],
    [`/stats/retention?start_date=${FROM}&windows=8`, referenceRetention(kept, FROM, 8)],
    [
      `/stats/cohorts?from=${FROM}&to=${TO}`,
      {
        from: FROM,
        to: TO,
        cohorts: Array.from({ length: weeks }, (_, c) => {
          const r = referenceRetention(kept, addDays(FROM, 7 * c), Math.max(1, weeks - 1 - c))
          return { ...r, retention: r.retention.slice(0, weeks - 1 - c) }
        }),
      },
    ],
    [`/stats/active-users?from=${FROM}&to=${TO}`, referenceActiveUsers(kept, FROM, TO, all)],
    ...(['day', 'week', 'month'] as const).map((interval): [string, unknown] => [
      `/stats/lifecycle?from=${FROM}&to=${TO}&interval=${interval}`,
      referenceLifecycle(kept, FROM, TO, interval, undefined, all),
    ]),
    [
      `/stats/trends?from=${FROM}&to=${TO}&interval=week&measure=unique_users`,
      referenceTrends(kept, FROM, TO, [{ measure: 'unique_users', keep: all }], {
        interval: 'week',
        compare: false,
      }),
    ],
    [
      `/stats/trends?from=${FROM}&to=${TO}&interval=day&event_type=purchase&measure=count&breakdown=properties.plan&breakdown_limit=5`,
      referenceTrends(kept, FROM, TO, [{ eventType: 'purchase', measure: 'count', keep: all }], {
        interval: 'day',
        compare: false,
        breakdown: { path: ['plan'], limit: 5 },
      }),
    ],
    [
      `/stats/breakdown?from=${FROM}&to=${TO}&by=properties.plan&limit=10`,
      referenceBreakdown(dedupe(kept), FROM, TO, ['plan'], 10, all),
    ],
    [
      `/stats/funnel?from=${FROM}&to=${TO}&steps=signup&steps=purchase&window=7d&order=ordered`,
      referenceFunnel(kept, FROM, TO, {
        steps: [{ type: 'signup' }, { type: 'purchase' }],
        windowUs: 7 * 86_400e6,
        order: 'ordered',
      }),
    ],
  ]
}

for (const mode of MODES) {
  describe(`retention in the replica, ${mode.name}`, { skip: mode.skip }, () => {
    let t: TestApp
    let clock = Date.parse('2026-10-30T10:00:00Z')
    const posted = fixture()

    const check = async (kept: readonly ReferenceEvent[], cut: string) => {
      const analytics = t.deps.analytics!
      await analytics.catchUp()
      const replica = analytics.replica
      const [counts] = await replica.query<{ events: bigint; first: string; below: bigint }>(
        `SELECT count(*) AS events, min(day)::VARCHAR AS first,
           (SELECT count(*) FROM event_props WHERE day < $1::DATE)
           + (SELECT count(*) FROM day_users WHERE day < $1::DATE)
           + (SELECT count(*) FROM day_type_users WHERE day < $1::DATE)
           + (SELECT count(*) FROM prop_day_users WHERE day < $1::DATE)
           + (SELECT count(*) FROM type_day_counts WHERE day < $1::DATE)
           + (SELECT count(*) FROM prop_day_counts WHERE day < $1::DATE) AS below
         FROM events`,
        [cut],
      )
      assert.equal(Number(counts!.events), dedupe(kept).length)
      assert.equal(counts!.first, cut)
      assert.equal(Number(counts!.below), 0)
      // users: one per user with a kept event, first seen on their first kept day
      const users = await replica.query<{ user_id: string; first_day: string }>(
        'SELECT user_id, first_day::VARCHAR AS first_day FROM users ORDER BY user_id',
      )
      const firstDays = new Map<string, string>()
      for (const e of kept) {
        const day = utcDay(e.occurred_at)
        if (!firstDays.has(e.user_id) || day < firstDays.get(e.user_id)!)
          firstDays.set(e.user_id, day)
      }
      assert.deepEqual(
        users,
        [...firstDays]
          .map(([user_id, first_day]) => ({ user_id, first_day }))
          .sort((a, b) => (a.user_id < b.user_id ? -1 : 1)),
      )
      for (const [url, want] of figures(kept)) assert.deepEqual(await getOk(t.app, url), want, url)
    }

    before(async () => {
      const options = { queue: mode.server, worker: true, env: SWEEP_DAILY, now: () => clock }
      t = mode.server ? await startServerTestApp(options) : await startTestApp(options)
      for (let i = 0; i < posted.length; i += 500) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/events',
          payload: posted.slice(i, i + 500),
        })
        assert.equal(res.statusCode, mode.status, res.body)
      }
      await waitFor(
        'stored',
        () => t.count(),
        (n) => n === posted.length,
      )
    })
    after(async () => {
      await t?.close()
    })

    test('without retention, the replica holds every event', async () => {
      await t.deps.analytics!.catchUp()
      assert.deepEqual(
        await getOk(t.app, `/stats/dau?from=${FROM}&to=${TO}`),
        referenceDau(posted, FROM, TO),
      )
    })

    test('retention set: the days before the cut leave the replica, every figure is the kept events', async () => {
      await t.deps.projects.setRetention('default', RETENTION_DAYS)
      await check(keptFrom(posted, FIRST_CUT), FIRST_CUT)
      // The store still holds them: the replica cut them by itself.
      assert.equal(await t.count(), posted.length)
    })

    test('the clock passes midnight six times: those days go too, and the bitmaps folded agree', async () => {
      clock += 6 * DAY_MS
      await check(keptFrom(posted, SECOND_CUT), SECOND_CUT)
      await t.deps.analytics!.fold()
      for (const [url, want] of figures(keptFrom(posted, SECOND_CUT)))
        assert.deepEqual(await getOk(t.app, url), want, url)
    })

    test('the clock stepping back over midnight (NTP) neither rebuilds nor takes a day back', async () => {
      const at = clock
      clock = Date.parse('2026-11-04T23:59:59.000Z')
      try {
        await check(keptFrom(posted, SECOND_CUT), SECOND_CUT)
      } finally {
        clock = at
      }
    })

    test('events older than the cut posted later never appear; newer ones do', async () => {
      const late = [
        makeEvent({ user_id: 'late-old', occurred_at: '2026-09-01T08:00:00.000Z' }),
        makeEvent({ user_id: 'u150', occurred_at: '2026-10-02T23:59:59.999Z' }),
        makeEvent({ user_id: 'u250', occurred_at: `${SECOND_CUT}T00:00:00.000Z` }),
        makeEvent({ user_id: 'late-new', occurred_at: '2026-10-20T12:00:00.000Z' }),
      ]
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: late })
      assert.equal(res.statusCode, mode.status, res.body)
      await waitFor(
        'stored',
        () => t.count(),
        (n) => n === posted.length + late.length,
      )
      posted.push(...late)
      await check(keptFrom(posted, SECOND_CUT), SECOND_CUT)
      const [old] = await t.deps.analytics!.replica.query<{ n: bigint }>(
        `SELECT count(*) AS n FROM users WHERE user_id = 'late-old'`,
      )
      assert.equal(Number(old!.n), 0)
    })

    test('a replica rebuilt from the store takes only the kept events', async () => {
      await t.deps.analytics!.reset()
      await check(keptFrom(posted, SECOND_CUT), SECOND_CUT)
    })

    test('retention unset: the replica is rebuilt with everything the store still holds', async () => {
      await t.deps.projects.setRetention('default', null)
      await check(posted, FROM)
    })
  })
}

describe('each project by its own retention, else the service RETENTION_DAYS (embedded)', () => {
  let t: TestApp
  // Ten years on: the store's sweep, by the real clock, cuts nothing of the
  // fixture at start, while the replicas' clock puts their cuts inside it.
  const clock = Date.parse('2026-10-10T10:00:00Z') + 3650 * DAY_MS
  const posted = fixture()

  before(async () => {
    const env = { RETENTION_DAYS: '3650', ...SWEEP_DAILY }
    t = await startTestApp({ queue: false, env, now: () => clock })
    await t.deps.projects.create('other')
    await t.deps.projects.setRetention('other', 3670)
    for (const project of ['default', 'other'])
      for (let i = 0; i < posted.length; i += 500) {
        const url = `/events?project=${project}`
        const res = await t.app.inject({ method: 'POST', url, payload: posted.slice(i, i + 500) })
        assert.equal(res.statusCode, 201, res.body)
      }
  })
  after(async () => {
    await t?.close()
  })

  test('the default project cuts by RETENTION_DAYS, the other 20 days further back by its own', async () => {
    await t.deps.analytics!.catchUp()
    const other = (await t.deps.projects.byName('other'))!.id
    for (const [project, id, cut] of [
      ['default', 1, '2026-10-10'],
      ['other', other, '2026-09-20'],
    ] as const) {
      const replica = await t.deps.analytics!.replicaOf(id)
      const [row] = await replica.query<{ n: bigint; first: string }>(
        'SELECT count(*) AS n, min(day)::VARCHAR AS first FROM events',
      )
      const kept = keptFrom(posted, cut)
      assert.equal(Number(row!.n), kept.length, project)
      assert.equal(row!.first, cut, project)
      assert.deepEqual(
        await getOk(t.app, `/stats/dau?from=${FROM}&to=${TO}&project=${project}`),
        referenceDau(kept, FROM, TO),
        project,
      )
    }
  })
})
