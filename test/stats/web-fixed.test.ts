import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import type { ReferenceEvent } from './reference.ts'
import { referenceOverview, referenceTopPages, referenceVisitGroups } from './web-reference.ts'

// /stats/web/* on a small data set worked out by hand (the literals below),
// and the reference (web-reference.ts) held to the same literals.
//
//   ann  05-01 10:00:00 view /  (referrer_host '')
//        05-01 10:30:00 view /pricing   gap exactly 30 min: the same visit (1800 s)
//        05-01 11:00:01 click           gap 30 min 1 s: a new visit, no page view
//   bob  05-01 12:00:00 view /blog      a one-page visit: a bounce
//   cat  05-01 23:50:00 view /  (referrer_host www.google.com, country UA)
//        05-02 00:10:00 view /docs (country UA)   crosses midnight: one visit (1200 s)
//   dan  05-02 09:00:00 click, 09:05:00 view /docs  one page view and another event: no bounce (300 s)
const at = (day: string, time: string) => `2026-05-${day}T${time}Z`
let n = 0
const ev = (
  user: string,
  occurred: string,
  type: string,
  properties: Record<string, unknown> = {},
): ReferenceEvent => ({
  event_id: `7e1b0000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  occurred_at: occurred,
  user_id: user,
  event_type: type,
  properties,
})
const EVENTS = [
  ev('ann', at('01', '10:00:00'), 'page_view', { path: '/', referrer_host: '' }),
  ev('ann', at('01', '10:30:00'), 'page_view', { path: '/pricing', referrer_host: '' }),
  ev('ann', at('01', '11:00:01'), 'click', { path: '/pricing' }),
  ev('bob', at('01', '12:00:00'), 'page_view', { path: '/blog' }),
  ev('cat', at('01', '23:50:00'), 'page_view', {
    path: '/',
    referrer_host: 'www.google.com',
    country: 'UA',
  }),
  ev('cat', at('02', '00:10:00'), 'page_view', { path: '/docs', country: 'UA' }),
  ev('dan', at('02', '09:00:00'), 'click', {}),
  ev('dan', at('02', '09:05:00'), 'page_view', { path: '/docs', screen_width: 1920 }),
]

const TWO_DAYS = {
  interval: 'day',
  totals: {
    visitors: 4,
    page_views: 6,
    visits: 5,
    bounces: 1,
    bounce_rate: 20,
    visit_duration: 660,
    views_per_visit: 1.2,
  },
  intervals: [
    { start: '2026-05-01', visitors: 3, page_views: 4, visits: 4 },
    { start: '2026-05-02', visitors: 2, page_views: 2, visits: 1 },
  ],
}
// 05-02 alone cuts cat's visit at midnight: its second page view is a visit, and a bounce.
const SECOND_DAY = {
  interval: 'day',
  totals: {
    visitors: 2,
    page_views: 2,
    visits: 2,
    bounces: 1,
    bounce_rate: 50,
    visit_duration: 150,
    views_per_visit: 1,
  },
  intervals: [{ start: '2026-05-02', visitors: 2, page_views: 2, visits: 2 }],
}
const UA = {
  interval: 'day',
  totals: {
    visitors: 1,
    page_views: 2,
    visits: 1,
    bounces: 0,
    bounce_rate: 0,
    visit_duration: 1200,
    views_per_visit: 2,
  },
  intervals: [
    { start: '2026-05-01', visitors: 1, page_views: 1, visits: 1 },
    { start: '2026-05-02', visitors: 1, page_views: 1, visits: 0 },
  ],
}
const hours = (busy: Record<number, [number, number, number]>) =>
  Array.from({ length: 24 }, (_, h) => {
    const [visitors, page_views, visits] = busy[h] ?? [0, 0, 0]
    return {
      start: `2026-05-01T${String(h).padStart(2, '0')}:00:00Z`,
      visitors,
      page_views,
      visits,
    }
  })
const TOP = [
  { value: '/', visitors: 2, page_views: 2 },
  { value: '/docs', visitors: 2, page_views: 2 },
  { value: '/blog', visitors: 1, page_views: 1 },
  { value: '/pricing', visitors: 1, page_views: 1 },
]
const row = (
  value: string,
  visitors: number,
  visits: number,
  page_views: number,
  bounce_rate: number,
  visit_duration: number,
) => ({ value, visitors, visits, page_views, bounce_rate, visit_duration })
const ENTRY = [
  row('/', 2, 2, 4, 0, 1500),
  row('/blog', 1, 1, 1, 100, 0),
  row('/docs', 1, 1, 1, 0, 300),
]
const EXIT = [
  row('/docs', 2, 2, 3, 0, 750),
  row('/blog', 1, 1, 1, 100, 0),
  row('/pricing', 1, 1, 2, 0, 1800),
]
const REFERRERS = [row('', 1, 1, 2, 0, 1800), row('www.google.com', 1, 1, 2, 0, 1200)]
const R = 'from=2026-05-01&to=2026-05-02'

describe('GET /stats/web/* on a hand-checked data set', {
  skip: await skipUnless('postgres'),
}, () => {
  let db: TestDatabase
  let t: TestApp
  const get = (url: string) => getOk(t.app, url)

  before(async () => {
    db = await createTestDatabase()
    t = await startTestApp({ databaseUrl: db.url, queue: false })
    const res = await t.app.inject({ method: 'POST', url: '/events', payload: EVENTS })
    assert.equal(res.statusCode, 201, res.body)
    await t.deps.analytics!.catchUp()
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  test('overview: visits cut at gaps over 30 minutes, a bounce, durations, midnight', async () => {
    assert.deepEqual(await get(`/stats/web/overview?${R}`), TWO_DAYS)
    assert.deepEqual(await get('/stats/web/overview?from=2026-05-02&to=2026-05-02'), SECOND_DAY)
    assert.deepEqual(await get(`/stats/web/overview?${R}&segment=properties.country:UA`), UA)
    assert.deepEqual(await get('/stats/web/overview?from=2026-05-01&to=2026-05-01&interval=hour'), {
      interval: 'hour',
      totals: {
        visitors: 3,
        page_views: 4,
        visits: 4,
        bounces: 2, // bob, and cat's visit cut at midnight
        bounce_rate: 50,
        visit_duration: 450,
        views_per_visit: 1,
      },
      intervals: hours({ 10: [1, 2, 1], 11: [1, 0, 1], 12: [1, 1, 1], 23: [1, 1, 1] }),
    })
  })

  test('pages: top, entry and exit', async () => {
    assert.deepEqual(await get(`/stats/web/pages?${R}`), { kind: 'top', rows: TOP })
    assert.deepEqual(await get(`/stats/web/pages?${R}&kind=entry`), { kind: 'entry', rows: ENTRY })
    assert.deepEqual(await get(`/stats/web/pages?${R}&kind=exit`), { kind: 'exit', rows: EXIT })
    assert.deepEqual(await get(`/stats/web/pages?${R}&kind=exit&limit=1`), {
      kind: 'exit',
      rows: EXIT.slice(0, 1),
    })
  })

  test('breakdown: the entry page view’s value; numbers as their text; a property nobody sent', async () => {
    assert.deepEqual(await get(`/stats/web/breakdown?${R}&by=referrer_host`), {
      by: 'referrer_host',
      rows: REFERRERS,
    })
    assert.deepEqual(await get(`/stats/web/breakdown?${R}&by=screen_width`), {
      by: 'screen_width',
      rows: [row('1920', 1, 1, 1, 0, 300)],
    })
    assert.deepEqual(await get(`/stats/web/breakdown?${R}&by=utm_campaign`), {
      by: 'utm_campaign',
      rows: [],
    })
  })

  test('the reference gives the same literals', () => {
    assert.deepEqual(referenceOverview(EVENTS, '2026-05-01', '2026-05-02', 'day'), TWO_DAYS)
    assert.deepEqual(referenceOverview(EVENTS, '2026-05-02', '2026-05-02', 'day'), SECOND_DAY)
    assert.deepEqual(
      referenceOverview(EVENTS, '2026-05-01', '2026-05-02', 'day', [
        { field: ['country'], op: 'eq', values: ['UA'] },
      ]),
      UA,
    )
    assert.deepEqual(referenceTopPages(EVENTS, '2026-05-01', '2026-05-02', 10), TOP)
    assert.deepEqual(
      referenceVisitGroups(EVENTS, '2026-05-01', '2026-05-02', 'path', 'entry', 10),
      ENTRY,
    )
    assert.deepEqual(
      referenceVisitGroups(EVENTS, '2026-05-01', '2026-05-02', 'path', 'exit', 10),
      EXIT,
    )
    assert.deepEqual(
      referenceVisitGroups(EVENTS, '2026-05-01', '2026-05-02', 'referrer_host', 'entry', 10),
      REFERRERS,
    )
  })

  test('bad parameters: one 422 naming each', async () => {
    const cases: Array<[string, Array<{ field: string; message: string }>]> = [
      [
        `/stats/web/overview?${R}&interval=week`,
        [{ field: 'interval', message: 'must be one of day, hour' }],
      ],
      [
        `/stats/web/pages?${R}&kind=first`,
        [{ field: 'kind', message: 'must be one of top, entry, exit' }],
      ],
      [
        '/stats/web/breakdown?from=2026-05-03&to=2026-05-01&by=planet',
        [
          { field: 'from', message: 'must not be after to' },
          {
            field: 'by',
            message:
              'must be one of referrer_host, referrer, utm_source, utm_medium, utm_campaign, utm_term, utm_content, browser, os, device, country, screen_width, language, host',
          },
        ],
      ],
      [
        `/stats/web/pages?${R}&limit=0`,
        [{ field: 'limit', message: 'must be an integer from 1 to 1000' }],
      ],
      [
        `/stats/web/overview?${R}&segment=country:UA`,
        [
          {
            field: 'segment',
            message:
              '"country:UA": the field must be event_type, user_id, properties.<path> or user.<trait>',
          },
        ],
      ],
    ]
    for (const [url, errors] of cases) {
      const res = await t.app.inject({ method: 'GET', url })
      assert.equal(res.statusCode, 422, `${url}: ${res.body}`)
      const body = res.json()
      assert.equal(body.code, 'VALIDATION_ERROR', url)
      assert.deepEqual(body.errors, errors, url)
    }
  })
})
