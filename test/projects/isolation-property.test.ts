import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import type { TestApp } from '../helpers/app.ts'
import {
  PausableWorker,
  PROJECT_MODES,
  startProjectApp,
  storedPerProject,
  waitStored,
} from '../helpers/projects.ts'
import { addDays, dedupe, type ReferenceEvent } from '../stats/reference.ts'
import type { Filter } from '../stats/reference-segment.ts'
import { referenceAnswer, type StatsQuery, statsUrl } from './references.ts'

// Random events spread over three projects of an open service (no keys: the
// caller names the project with ?project=), with event_ids and user_ids in
// common across projects, and random queries: each project's answers equal
// the reference over that project's events alone.
//
// As in ../stats/stats-property.test.ts, one app per mode and each run only
// adds events; the reference of a project is every event posted to it so far,
// in posting order (the first stored version of an id wins, per project).
// Shrinking is off (endOnFailure): the store accumulates, so a shrunk input
// would not reproduce alone; FC_SEED replays a failure's inputs.

const BASE_DAY = '2026-08-03'
const PROJECTS = ['default', 'p-one', 'p-two'] as const
const TYPES = ['view', 'click', 'buy', 'Buy']
// Users every run and every project shares, and a few new to each run (new cohorts).
const USERS = ['a', 'b', 'c', 'd', 'e', 'new-1', 'new-2', 'new-3']
// Ids every run may use, in any project: later runs resend them.
const SHARED_IDS = Array.from({ length: 4 }, () => randomUUID())

interface GenEvent {
  project: number
  /** into this run's ids, or (shared) into SHARED_IDS */
  id: number
  shared: boolean
  upper: boolean
  day: number
  user: string
  type: string
  properties: Record<string, unknown> | undefined
}

const genEvent = (ids: number): fc.Arbitrary<GenEvent> =>
  fc.record({
    project: fc.integer({ min: 0, max: PROJECTS.length - 1 }),
    id: fc.integer({ min: 0, max: ids - 1 }),
    shared: fc.oneof(
      { weight: 9, arbitrary: fc.constant(false) },
      { weight: 1, arbitrary: fc.constant(true) },
    ),
    upper: fc.boolean(),
    day: fc.integer({ min: 0, max: 20 }),
    user: fc.constantFrom(...USERS),
    type: fc.constantFrom(...TYPES),
    properties: fc.option(
      fc.record(
        { plan: fc.constantFrom('pro', 'free', 'team'), n: fc.integer({ min: 0, max: 5 }) },
        { requiredKeys: [] },
      ),
      { nil: undefined },
    ),
  })

const filterOf = (field: Filter['field'], ops: Filter['op'][], values: fc.Arbitrary<string[]>) =>
  fc
    .record({ op: fc.constantFrom(...ops), values })
    .map(({ op, values }): Filter => ({ field, op, values: op === 'exists' ? [] : values }))
const filter: fc.Arbitrary<Filter> = fc.oneof(
  filterOf(['plan'], ['eq', 'ne', 'exists'], fc.constantFrom(['pro'], ['team'])),
  filterOf(['n'], ['gt', 'lte'], fc.constantFrom(['1'], ['3'])),
  filterOf('event_type', ['in'], fc.subarray(TYPES, { minLength: 1 })),
  filterOf('user_id', ['eq'], fc.constantFrom(['a'], ['b'], ['c'])),
)

const query: fc.Arbitrary<StatsQuery> = fc
  .record({
    route: fc.constantFrom<StatsQuery['route']>('dau', 'top-events', 'retention', 'breakdown'),
    from: fc.integer({ min: -2, max: 18 }),
    days: fc.integer({ min: 1, max: 25 }),
    windows: fc.integer({ min: 1, max: 4 }),
    limit: fc.integer({ min: 1, max: 4 }),
    by: fc.constantFrom<Filter['field'][]>(['plan'], ['n'], 'event_type'),
    segment: fc.oneof(fc.constant<Filter[]>([]), fc.array(filter, { minLength: 1, maxLength: 2 })),
  })
  .map(({ days, ...q }): StatsQuery => {
    const from = addDays(BASE_DAY, q.from)
    return { ...q, from, to: addDays(from, days - 1) }
  })

const runArb = fc.integer({ min: 1, max: 25 }).chain((ids) =>
  fc.record({
    ids: fc.constant(ids),
    first: fc.array(genEvent(ids), { maxLength: 60 }),
    // a later request: ids of this run again, in the same or other projects
    later: fc.array(genEvent(ids), { maxLength: 15 }),
    // writes to default without project= go there
    nameDefault: fc.boolean(),
    queries: fc.array(fc.array(query, { minLength: 3, maxLength: 3 }), {
      minLength: PROJECTS.length,
      maxLength: PROJECTS.length,
    }),
  }),
)

for (const mode of PROJECT_MODES) {
  describe(`each project's stats equal the reference over its own events, on random data, ${mode.name}`, {
    skip: mode.skip,
  }, () => {
    let t: TestApp
    let worker: PausableWorker
    const ids: Record<string, number> = {}
    const posted: Record<string, ReferenceEvent[]> = Object.fromEntries(
      PROJECTS.map((p) => [p, []]),
    )
    let run = 0
    /** answers that the events of another project would have changed: a mix-up would show there */
    let telling = 0

    before(async () => {
      t = await startProjectApp(mode)
      worker = new PausableWorker(t)
      worker.start()
      ids.default = 1
      for (const name of PROJECTS.slice(1)) ids[name] = (await t.deps.projects.create(name)).id
    })
    after(async () => {
      await worker?.stop()
      await t?.close()
    })

    /** Posts a project's events in one request; the answer counts exactly the ids new to it. */
    async function post(name: string, events: ReferenceEvent[], named: boolean): Promise<void> {
      if (events.length === 0) return
      const seen = new Set(dedupe(posted[name]!).map((e) => e.event_id.toLowerCase()))
      let inserted = 0
      for (const e of events) {
        const id = e.event_id.toLowerCase()
        if (!seen.has(id)) inserted += 1
        seen.add(id)
      }
      const res = await t.app.inject({
        method: 'POST',
        url: named ? `/events?project=${name}` : '/events',
        payload: events as object[],
      })
      assert.equal(res.statusCode, mode.status, res.body)
      assert.deepEqual(
        { inserted: res.json().inserted, duplicates: res.json().duplicates },
        { inserted, duplicates: events.length - inserted },
        `POST ${events.length} events to ${name} (run ${run})`,
      )
      posted[name]!.push(...events)
    }

    const settle = () =>
      waitStored(t, Object.fromEntries(PROJECTS.map((p) => [ids[p], dedupe(posted[p]!).length])))

    test('a service with three projects wants reads to name one', async () => {
      const res = await t.app.inject('/stats/range')
      assert.equal(res.statusCode, 422)
      assert.equal(res.json().code, 'PROJECT_REQUIRED')
    })

    test('DAU, top events, retention and breakdowns, filtered or not, equal the reference per project', {
      timeout: 120_000,
    }, async () => {
      await fc.assert(
        fc.asyncProperty(runArb, async (input) => {
          run += 1
          const pool = Array.from({ length: input.ids }, () => randomUUID())
          const event = (g: GenEvent): ReferenceEvent => {
            const id = g.shared ? SHARED_IDS[g.id % SHARED_IDS.length]! : pool[g.id]!
            return {
              event_id: g.upper ? id.toUpperCase() : id,
              occurred_at: `${addDays(BASE_DAY, g.day)}T12:00:00Z`,
              user_id: g.user.startsWith('new') ? `r${run}-${g.user}` : g.user,
              event_type: g.type,
              ...(g.properties ? { properties: g.properties } : {}),
            }
          }
          for (const round of [input.first, input.later]) {
            for (const [p, name] of PROJECTS.entries()) {
              const events = round.filter((g) => g.project === p).map(event)
              await post(name, events, name !== 'default' || input.nameDefault)
            }
            // Stored before the next round, so which version of an id is first is the posting order.
            await settle()
          }
          await t.deps.analytics!.catchUp()

          for (const [p, name] of PROJECTS.entries()) {
            for (const q of input.queries[p]!) {
              const url = statsUrl(q, name)
              const res = await t.app.inject(url)
              assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`)
              const expected = referenceAnswer(posted[name]!, q)
              const others = PROJECTS.filter((o) => o !== name)
              if (others.some((o) => !isDeepStrictEqual(referenceAnswer(posted[o]!, q), expected)))
                telling += 1
              assert.ok(
                isDeepStrictEqual(res.json(), expected),
                `run ${run}, GET ${decodeURIComponent(url)}\n got ${res.body}\nwant ${JSON.stringify(expected)}`,
              )
            }
          }
        }),
        {
          numRuns: 25,
          endOnFailure: true,
          ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
        },
      )
      assert.ok(telling > 50, `${telling} answers would differ over another project's events`)
      // The runs did spread events over every project, with ids in common.
      const stored = await storedPerProject(t)
      for (const name of PROJECTS) assert.ok((stored[ids[name]!] ?? 0) > 0, `${name} has events`)
      const { rows } = await t.deps.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM (SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1) x',
      )
      assert.ok(rows[0]!.n > 0, 'some event_ids are in several projects')
    })
  })
}
