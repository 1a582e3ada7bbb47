import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { getOk, startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'

// /stats/funnel on small data sets worked out by hand, one set of event
// types per rule (so each set's users and figures stand alone), in the
// comments beside the literals. Events are posted in this order, so events of
// the same instant are stored (seq) in this order too.
let n = 0
const E = (user: string, at: string, type: string, properties?: Record<string, unknown>) => ({
  event_id: `f0000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
  occurred_at: at.startsWith('2026-') ? at : `2026-06-${at}Z`,
  user_id: user,
  event_type: type,
  ...(properties ? { properties } : {}),
})
const EVENTS = [
  // A: signup → view → purchase, from=06-01 to=06-30, window 14d
  E('ann', '01T10:00:00', 'signup', { plan: 'pro' }),
  E('ann', '01T10:05:00', 'view'), // +300 s
  E('ann', '02T10:00:00', 'purchase'), // +86,100 s
  E('ben', '01T12:00:00', 'signup', { plan: 'free' }),
  E('ben', '15T12:00:00', 'view'), // exactly 14 days later: in (window edge inclusive)
  E('ben', '15T12:00:00.001', 'purchase'), // 1 ms past the window: out
  E('cat', '02T09:00:00', 'view'), // before the signup: no use
  E('cat', '02T10:00:00', 'signup', { plan: 'pro' }),
  E('cat', '02T11:00:00', 'purchase'), // no view between: stops at 1
  E('dan', '03T10:00:00', 'signup', { plan: 'free' }), // attempt 1: the view is 17 days later
  E('dan', '10T10:00:00', 'signup', { plan: 'team' }), // attempt 2, the counted one
  E('dan', '20T10:00:00', 'view'), // +10 days
  E('dan', '21T10:00:00', 'purchase'), // +1 day
  E('eve', '04T10:00:00', 'view'), // all three at one instant, posted view first
  E('eve', '04T10:00:00', 'signup'),
  E('eve', '04T10:00:00', 'purchase'),
  E('fay', '2026-05-31T23:59:59.999Z', 'signup', { plan: 'team' }), // before from: not an entry
  E('fay', '2026-06-30T23:59:59.999Z', 'signup', { plan: 'pro' }), // last ms of to: an entry
  E('fay', '2026-07-01T00:00:00Z', 'view'), // after to, +0.001 s
  E('fay', '2026-07-02T00:00:00Z', 'purchase'), // +86,400 s
  // B: s1 → s2 → s3, strict against ordered (page is any other event)
  E('gus', '05T10:00:00', 's1'),
  E('gus', '05T10:01:00', 'page'), // between s1 and s2: strict stops at 1
  E('gus', '05T10:02:00', 's2'),
  E('gus', '05T10:03:00', 's3'),
  E('hal', '05T10:00:00', 's2'), // same instant as s1, posted before it
  E('hal', '05T10:00:00', 's1'),
  E('hal', '05T10:00:00', 'page'), // same instant as s1 and s2: not between
  E('hal', '05T10:05:00', 's3'),
  E('ivy', '05T10:00:00', 's1'),
  E('ivy', '05T10:01:00', 's2'),
  E('ivy', '05T10:02:00', 's1'), // between s2 and s3: strict stops at 2
  E('ivy', '05T10:03:00', 's3'),
  // C: c1 → c2 → c3 with cancel excluded
  E('jon', '06T10:00:00', 'c1'),
  E('jon', '06T10:01:00', 'cancel'), // between 1 and 2
  E('jon', '06T10:02:00', 'c2'),
  E('kim', '06T10:00:00', 'c1'),
  E('kim', '06T10:01:00', 'c2'),
  E('kim', '06T10:02:00', 'cancel'), // after the last step reached: harmless
  E('lee', '06T10:00:00', 'c1'),
  E('lee', '06T10:01:00', 'c2'),
  E('lee', '06T10:01:00', 'cancel'), // the same instant as c2: not strictly between
  E('lee', '06T10:05:00', 'c3'),
  E('mia', '06T10:00:00', 'c1'),
  E('mia', '06T10:01:00', 'c2'),
  E('mia', '06T10:03:00', 'cancel'), // between 2 and 3
  E('mia', '06T10:04:00', 'c3'),
  // D: v → v → buy, one event completes one step
  E('ned', '07T10:00:00', 'v'),
  E('ned', '07T10:01:00', 'buy'), // the only v is step 1: stops at 1
  E('oli', '07T10:00:00', 'v'),
  E('oli', '07T10:00:00', 'v'), // a second v at the same instant: step 2
  E('oli', '07T10:00:00', 'buy'),
  // E: u1, u2, u3 in any order within an hour
  E('pat', '08T10:00:00', 'u3'),
  E('pat', '08T10:30:00', 'u1'),
  E('pat', '08T11:00:00', 'u2'), // exactly an hour after u3
  E('quin', '08T10:00:00', 'u2'),
  E('quin', '08T12:00:00', 'u1'),
  // F: n1 → n3 → n2 for 150 users with an n2 before their n1 and no n3. Enough
  // rows for DuckDB's ASOF join to match a stopped attempt's NULL time with some
  // n2, which once counted them at step 2 (issue 18).
  ...Array.from({ length: 150 }, (_, i) => [
    E(`nil${i}`, '09T08:00:00', 'n2'),
    E(`nil${i}`, '09T09:00:00', 'n1'),
  ]).flat(),
]

const row = (
  step: number,
  event_type: string,
  users: number,
  conversion_from_first: number,
  conversion_from_previous: number,
  drop_off: number,
  median_seconds: number | null = null,
  mean_seconds: number | null = median_seconds,
) => ({
  step,
  event_type,
  users,
  conversion_from_first,
  conversion_from_previous,
  drop_off,
  median_seconds,
  mean_seconds,
})

const stores = [
  { name: 'embedded', server: false, skip: false as const },
  { name: 'PostgreSQL', server: true, skip: await skipUnless('postgres') },
]

for (const store of stores)
  describe(`GET /stats/funnel on fixed data (${store.name})`, { skip: store.skip }, () => {
    let db: TestDatabase | undefined
    let t: TestApp
    const funnel = (q: string) => getOk(t.app, `/stats/funnel?from=2026-06-01&to=2026-06-30&${q}`)

    before(async () => {
      db = store.server ? await createTestDatabase() : undefined
      t = await startTestApp({ databaseUrl: db?.url, queue: false })
      const res = await t.app.inject({ method: 'POST', url: '/events', payload: EVENTS })
      assert.equal(res.statusCode, 201, res.body)
      await t.deps.analytics!.catchUp()
    })
    after(async () => {
      await t?.close()
      await db?.drop()
    })

    test('ordered: window edges, entry range, repeated step 1, equal timestamps', async () => {
      // entered: ann ben cat dan eve fay (fay's 05-31 signup is before from)
      // step 2: ann 300, ben 1,209,600, dan 864,000, eve 0, fay 0.001 → median 300, mean 2,073,900.001 / 5
      // step 3: ann 86,100, dan 86,400, eve 0, fay 86,400 → median 86,250, mean 258,900 / 4
      assert.deepEqual(await funnel('steps=signup&steps=view&steps=purchase'), {
        order: 'ordered',
        window_seconds: 1_209_600,
        steps: [
          row(1, 'signup', 6, 100, 100, 0),
          row(2, 'view', 5, 83.3, 83.3, 1, 300, 414_780.0002),
          row(3, 'purchase', 4, 66.7, 80, 1, 86_250, 64_725),
        ],
      })
    })

    test('the window: a shorter one cuts ben, dan and fay short', async () => {
      // 1d: ben's view (14 d) and dan's view (10 d) are out; fay's purchase is exactly 1 d + 1 ms after her signup: out
      assert.deepEqual(await funnel('steps=signup&steps=view&steps=purchase&window=1d'), {
        order: 'ordered',
        window_seconds: 86_400,
        steps: [
          row(1, 'signup', 6, 100, 100, 0),
          row(2, 'view', 3, 50, 50, 3, 0.001, 300_001_000 / 3 / 1e6), // ann 300, eve 0, fay 0.001
          row(3, 'purchase', 2, 33.3, 66.7, 1, 43_050), // ann 86,100, eve 0
        ],
      })
    })

    test('strict: another event strictly between two steps stops the attempt', async () => {
      const steps = 'steps=s1&steps=s2&steps=s3'
      assert.deepEqual((await funnel(steps)).steps, [
        row(1, 's1', 3, 100, 100, 0),
        row(2, 's2', 3, 100, 100, 0, 60), // gus 120, hal 0, ivy 60
        row(3, 's3', 3, 100, 100, 0, 120, 160), // gus 60, hal 300, ivy 120
      ])
      assert.deepEqual((await funnel(`${steps}&order=strict`)).steps, [
        row(1, 's1', 3, 100, 100, 0),
        row(2, 's2', 2, 66.7, 66.7, 1, 30), // hal 0, ivy 60 (gus: page between)
        row(3, 's3', 1, 33.3, 50, 1, 300), // hal (ivy: an s1 between)
      ])
    })

    test('exclusions void the attempt they fall inside, for the pairs named', async () => {
      const steps = 'steps=c1&steps=c2&steps=c3'
      assert.deepEqual((await funnel(steps)).steps, [
        row(1, 'c1', 4, 100, 100, 0),
        row(2, 'c2', 4, 100, 100, 0, 60, 75), // jon 120, kim 60, lee 60, mia 60
        row(3, 'c3', 2, 50, 50, 2, 210), // lee 240, mia 180
      ])
      assert.deepEqual((await funnel(`${steps}&exclude=cancel`)).steps, [
        row(1, 'c1', 2, 100, 100, 0), // kim, lee
        row(2, 'c2', 2, 100, 100, 0, 60),
        row(3, 'c3', 1, 50, 50, 1, 240), // lee
      ])
      assert.deepEqual((await funnel(`${steps}&exclude=1:cancel`)).steps, [
        row(1, 'c1', 3, 100, 100, 0), // kim, lee, mia
        row(2, 'c2', 3, 100, 100, 0, 60),
        row(3, 'c3', 2, 66.7, 66.7, 1, 210),
      ])
      assert.deepEqual((await funnel(`${steps}&exclude=2:cancel`)).steps, [
        row(1, 'c1', 3, 100, 100, 0), // jon, kim, lee
        row(2, 'c2', 3, 100, 100, 0, 60, 80),
        row(3, 'c3', 1, 33.3, 33.3, 2, 240),
      ])
    })

    test('one event completes one step, even at one instant', async () => {
      assert.deepEqual((await funnel('steps=v&steps=v&steps=buy')).steps, [
        row(1, 'v', 2, 100, 100, 0), // ned, oli
        row(2, 'v', 1, 50, 50, 1, 0), // oli's second v
        row(3, 'buy', 1, 50, 100, 0, 0),
      ])
    })

    test('unordered: every step within the window of the earliest', async () => {
      const steps = 'steps=u1&steps=u2&steps=u3&window=1h'
      assert.deepEqual((await funnel(`${steps}&order=unordered`)).steps, [
        row(1, 'u1', 2, 100, 100, 0), // pat, quin
        row(2, 'u2', 1, 50, 50, 1, 1800), // pat: u3 10:00, u1 10:30, u2 11:00
        row(3, 'u3', 1, 50, 100, 0, 1800),
      ])
      assert.deepEqual((await funnel(steps)).steps, [
        row(1, 'u1', 2, 100, 100, 0),
        row(2, 'u2', 1, 50, 50, 1, 1800), // pat u1 10:30 → u2 11:00; no u3 after
        row(3, 'u3', 0, 0, 0, 1),
      ])
    })

    test('an attempt that stopped reaches no later step', async () => {
      for (const order of ['ordered', 'strict'])
        assert.deepEqual((await funnel(`steps=n1&steps=n3&steps=n2&order=${order}`)).steps, [
          row(1, 'n1', 150, 100, 100, 0),
          row(2, 'n3', 0, 0, 0, 150),
          row(3, 'n2', 0, 0, 0, 0),
        ])
    })

    test('step filters narrow one step', async () => {
      // entries with plan pro: ann, cat, fay (her 06-30 signup)
      assert.deepEqual(
        (await funnel('steps=signup&steps=view&steps=purchase&step_filter=1:properties.plan:pro'))
          .steps,
        [
          row(1, 'signup', 3, 100, 100, 0),
          row(2, 'view', 2, 66.7, 66.7, 1, 150.0005), // ann 300, fay 0.001
          row(3, 'purchase', 2, 66.7, 100, 0, 86_250), // ann 86,100, fay 86,400
        ],
      )
    })

    test('breakdown by the counted attempt’s step-1 value, top N and other', async () => {
      // pro: ann cat fay; free: ben; team: dan (his second signup); eve has no plan
      const answer = await funnel(
        'steps=signup&steps=view&steps=purchase&breakdown=properties.plan&breakdown_limit=2',
      )
      assert.deepEqual(answer.breakdown, {
        by: 'properties.plan',
        step: 1,
        values: [
          {
            value: 'pro',
            steps: [
              row(1, 'signup', 3, 100, 100, 0),
              row(2, 'view', 2, 66.7, 66.7, 1, 150.0005),
              row(3, 'purchase', 2, 66.7, 100, 0, 86_250),
            ],
          },
          {
            value: 'free', // ties with team on users: by text
            steps: [
              row(1, 'signup', 1, 100, 100, 0),
              row(2, 'view', 1, 100, 100, 0, 1_209_600),
              row(3, 'purchase', 0, 0, 0, 1),
            ],
          },
        ],
        other: {
          values: 1,
          steps: [
            row(1, 'signup', 1, 100, 100, 0),
            row(2, 'view', 1, 100, 100, 0, 864_000),
            row(3, 'purchase', 1, 100, 100, 0, 86_400),
          ],
        },
        not_set: {
          steps: [
            row(1, 'signup', 1, 100, 100, 0),
            row(2, 'view', 1, 100, 100, 0, 0),
            row(3, 'purchase', 1, 100, 100, 0, 0),
          ],
        },
      })
    })

    test('bad parameters are one 422 naming each', async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: '/stats/funnel?from=2026-06-01&to=2026-06-30&steps=a&window=91d&order=sideways&step_filter=11:x&exclude=0:y&breakdown=event_type',
      })
      assert.equal(res.statusCode, 422, res.body)
      const { errors } = res.json()
      assert.deepEqual(errors, [
        {
          field: 'steps',
          message: '2 to 10 event types (steps=a&steps=b), each 1 to 128 characters',
        },
        { field: 'window', message: 'at most 90d' },
        { field: 'order', message: 'must be ordered, strict or unordered' },
        {
          field: 'step_filter',
          message: '"11:x": expected <step>:…, the step a number from 1 to 10',
        },
        { field: 'exclude', message: '"0:y": expected <step>:…, the step a number from 1 to 9' },
        { field: 'breakdown', message: 'must be properties.<path> or user.<trait>' },
      ])
      const trait = await t.app.inject({
        url: '/stats/funnel?from=2026-06-01&to=2026-06-30&steps=a&steps=b&breakdown=user.plan&breakdown_step=2',
      })
      assert.equal(trait.statusCode, 422)
      assert.deepEqual(trait.json().errors, [
        {
          field: 'breakdown_step',
          message: "user.<trait> is the person's current trait, the same at every step",
        },
      ])
    })
  })
