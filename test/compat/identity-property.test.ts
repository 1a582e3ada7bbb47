import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { referenceAnswer, type StatsQuery, statsUrl } from '../projects/references.ts'
import { addDays, dedupe, type ReferenceEvent } from '../stats/reference.ts'
import type { Filter } from '../stats/reference-segment.ts'
import { basic, COMPAT_MODES, type CompatApp, startCompatApp } from './compat-app.ts'
import { referencePersons } from './identity-reference.ts'

// Random events and random identify and alias calls, sent through the real
// endpoints in rounds, with the replica caught up (and sometimes folded)
// between rounds, so links land on persons whose events are in folded
// bitmaps, in pending rows, or not yet copied, and events come after links
// too. Every figure equals the reference over the same events with each
// user id replaced by the person the rules (identity-reference.ts) put it in;
// and a replica rebuilt from PostgreSQL answers the same.

const BASE_DAY = '2026-08-03'
const TYPES = ['view', 'click', 'buy']
// Ids of every run (so links cross runs), a few new to each run, and one never linked.
const IDS = ['a', 'b', 'c', 'd', 'anon-1', 'anon-2', 'new-1', 'new-2', 'null']

interface GenEvent {
  day: number
  user: string
  type: string
  plan: string | undefined
}
interface GenLink {
  kind: 'identify' | 'alias'
  source: string
  target: string
  plan: string | undefined
}

const genEvent: fc.Arbitrary<GenEvent> = fc.record({
  day: fc.integer({ min: 0, max: 15 }),
  user: fc.constantFrom(...IDS),
  type: fc.constantFrom(...TYPES),
  plan: fc.option(fc.constantFrom('pro', 'free'), { nil: undefined }),
})
const genLink: fc.Arbitrary<GenLink> = fc.record({
  kind: fc.constantFrom('identify', 'alias'),
  source: fc.constantFrom(...IDS),
  target: fc.constantFrom(...IDS),
  plan: fc.option(fc.constantFrom('pro', 'free'), { nil: undefined }),
})
const round = fc.record({
  events: fc.array(genEvent, { maxLength: 25 }),
  links: fc.array(genLink, { maxLength: 4 }),
  fold: fc.boolean(),
})

const filter: fc.Arbitrary<Filter> = fc.oneof(
  fc.constantFrom<Filter>(
    { field: ['plan'], op: 'eq', values: ['pro'] },
    { field: 'event_type', op: 'in', values: ['buy', 'view'] },
  ),
  fc
    .record({ op: fc.constantFrom<Filter['op']>('eq', 'ne'), id: fc.constantFrom(...IDS) })
    .map(({ op, id }): Filter => ({ field: 'user_id', op, values: [id] })),
)
const query: fc.Arbitrary<StatsQuery> = fc
  .record({
    route: fc.constantFrom<StatsQuery['route']>(
      'dau',
      'top-events',
      'retention',
      'retention-day',
      'breakdown',
      'cohorts',
    ),
    from: fc.integer({ min: -1, max: 10 }),
    days: fc.integer({ min: 1, max: 16 }),
    windows: fc.integer({ min: 1, max: 3 }),
    limit: fc.integer({ min: 1, max: 5 }),
    by: fc.constantFrom<Filter['field'][]>(['plan'], 'event_type', 'user_id'),
    segment: fc.oneof(fc.constant<Filter[]>([]), fc.array(filter, { minLength: 1, maxLength: 2 })),
  })
  .map(({ days, ...q }): StatsQuery => {
    const from = addDays(BASE_DAY, q.from)
    return { ...q, from, to: addDays(from, days - 1) }
  })

for (const mode of COMPAT_MODES) {
  describe(`identities merged retroactively, on random data, ${mode.name}`, {
    skip: mode.skip,
  }, () => {
    let c: CompatApp
    const events: ReferenceEvent[] = []
    const links: Array<{ kind: 'identify' | 'alias'; source: string; target: string }> = []
    let run = 0
    let merged = 0

    before(async () => {
      c = await startCompatApp(mode)
    })
    after(() => c?.close())

    const answersEqual = async (queries: StatsQuery[], label: string) => {
      const persons = referencePersons(links)
      const person = (id: string) => persons.get(id) ?? id
      const asPersons = events.map((e) => ({ ...e, user_id: person(e.user_id) }))
      for (const q of queries) {
        // A filter on a user id keeps the events of the person it belongs to.
        const segment = q.segment.map((f) =>
          f.field === 'user_id' ? { ...f, values: f.values.map(person) } : f,
        )
        const url = statsUrl(q)
        const got = await c.read(url)
        const want = referenceAnswer(asPersons, { ...q, segment })
        assert.ok(
          isDeepStrictEqual(got, want),
          `${label}, GET ${decodeURIComponent(url)}\n got ${JSON.stringify(got)}\nwant ${JSON.stringify(want)}`,
        )
      }
    }

    test('every figure counts linked ids as one person, from their first event', {
      timeout: 300_000,
    }, async () => {
      const analytics = c.t.deps.analytics!
      await fc.assert(
        fc.asyncProperty(
          fc.array(round, { minLength: 1, maxLength: 3 }),
          fc.array(query, { minLength: 4, maxLength: 4 }),
          async (rounds, queries) => {
            run += 1
            const id = (user: string) => (user.startsWith('new') ? `r${run}-${user}` : user)
            for (const r of rounds) {
              const batch = r.events.map(
                (g): ReferenceEvent => ({
                  event_id: randomUUID(),
                  occurred_at: `${addDays(BASE_DAY, g.day)}T12:00:00Z`,
                  user_id: id(g.user),
                  event_type: g.type,
                  ...(g.plan ? { properties: { plan: g.plan } } : {}),
                }),
              )
              if (batch.length > 0) {
                const res = await c.post('/events', batch, {
                  'x-api-key': c.writeKey,
                  'content-type': 'application/json',
                })
                assert.ok(res.statusCode < 300, res.body)
                events.push(...batch)
              }
              for (const l of r.links) {
                const source = id(l.source)
                const target = id(l.target)
                const traits = l.plan ? { plan: l.plan } : {}
                const res =
                  l.kind === 'identify'
                    ? await c.post(
                        '/v1/identify',
                        { userId: target, anonymousId: source, traits, messageId: randomUUID() },
                        basic(c.writeKey),
                      )
                    : await c.post(
                        '/v1/alias',
                        { userId: target, previousId: source, messageId: randomUUID() },
                        basic(c.writeKey),
                      )
                assert.equal(res.statusCode, 200, res.body)
                links.push({ kind: l.kind, source, target })
              }
              await c.waitEvents(dedupe(events).length)
              await analytics.catchUp()
              if (r.fold) await analytics.fold()
            }
            const persons = referencePersons(links)
            merged = new Set([...persons].filter(([i, p]) => i !== p).map(([i]) => i)).size
            await answersEqual(queries, `run ${run}`)
          },
        ),
        {
          numRuns: 20,
          includeErrorInReport: true,
          endOnFailure: true,
          ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        },
      )
      assert.ok(merged >= 3, `the runs merged ids (${merged})`)
    })

    test('a replica rebuilt from PostgreSQL answers the same', { timeout: 120_000 }, async () => {
      const analytics = c.t.deps.analytics!
      await analytics.reset()
      await analytics.catchUp()
      const queries: StatsQuery[] = ['dau', 'top-events', 'retention', 'cohorts'].map((route) => ({
        route: route as StatsQuery['route'],
        from: BASE_DAY,
        to: addDays(BASE_DAY, 15),
        windows: 3,
        limit: 5,
        by: 'user_id',
        segment: [],
      }))
      queries.push({ ...queries[0]!, route: 'breakdown' })
      await answersEqual(queries, 'rebuilt')
    })
  })
}
