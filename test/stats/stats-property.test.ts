import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { dayNumber } from '../../src/stats/params.ts'
import { topEvents } from '../../src/stats/top-events.ts'
import { startTestApp, type TestApp } from '../helpers/app.ts'
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts'
import { skipUnless } from '../helpers/services.ts'
import {
  addDays,
  type ReferenceEvent,
  referenceDau,
  referenceRetention,
  referenceTopEvents,
} from './reference.ts'

// Every endpoint against the reference (./reference.ts) on random data.
//
// Isolation, the simplest correct way: ONE database and ONE app for the whole
// file, and each run only ADDS events (fresh event_ids). The reference is
// computed over EVERY event posted to this database so far, in posting order,
// so it stays right whatever earlier runs left: DAU and top events count all
// users, and "first event ever" sees older runs' events. A fresh database and
// app per run would cost a migration and a new replica each time for no gain
// in correctness. Most user ids are namespaced per run (r<run>-u<i>), so every
// run brings new users and new cohorts; a few ids are shared by all runs on
// purpose, so a later run can give an already-replicated user an EARLIER first
// event, which the replica must take into account.
//
// Shrinking is off (endOnFailure): with the store accumulating, a shrunk input
// would not reproduce on its own. A failure names the request, the rows that
// differ from the reference, whether a second catchUp() would have fixed them
// (a sync that resolved too early, rather than a wrong computation), and
// fast-check's seed (FC_SEED below replays it).

const BASE_DAY = '2026-03-01'
const DAY_US = 86_400_000_000
const OFFSETS = { Z: 0, '+02:00': 120, '-05:00': -300, '+14:00': 840, '-12:00': -720 } as const
type Offset = keyof typeof OFFSETS
// 'Search' and 'search' differ only by case: they are two types, and 'Search' sorts first (code points).
const TYPES = ['page_view', 'click', 'signup', 'purchase', 'Search', 'search']
const SHARED_USERS = ['shared-a', 'SHARED-A', 'shared-b']

interface GenEvent {
  day: number
  micros: number
  offset: Offset
  user: number
  shared: number | null
  type: string
}

// A time of day in microseconds after UTC midnight, mostly close to midnight.
const timeOfDay = fc.oneof(
  fc.constant(0), // 00:00:00Z
  fc.constant(DAY_US - 1), // 23:59:59.999999Z
  fc.integer({ min: 0, max: 120_000_000 }), // the first two minutes
  fc.integer({ min: DAY_US - 120_000_000, max: DAY_US - 1 }), // the last two minutes
  fc.integer({ min: 0, max: DAY_US - 1 }),
)

function genEvent(users: number, types: string[]): fc.Arbitrary<GenEvent> {
  return fc.record({
    day: fc.integer({ min: -20, max: 19 }),
    micros: timeOfDay,
    offset: fc.constantFrom(...(Object.keys(OFFSETS) as Offset[])),
    user: fc.integer({ min: 0, max: users - 1 }),
    // one event in ten by a user shared by all runs
    shared: fc.oneof(
      { weight: 9, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: SHARED_USERS.length - 1 }) },
    ),
    type: fc.constantFrom(...types),
  })
}

/** The instant written in the given offset, with microseconds when it has any. */
function occurredAt(g: GenEvent): string {
  const utcMs = Date.parse(`${addDays(BASE_DAY, g.day)}T00:00:00Z`) + Math.floor(g.micros / 1000)
  const local = new Date(utcMs + OFFSETS[g.offset] * 60_000).toISOString().slice(0, 23) // no 'Z'
  const micro = g.micros % 1000
  const text = micro === 0 ? local : `${local}${String(micro).padStart(3, '0')}`
  return `${text}${g.offset}`
}

const range = fc.record({
  from: fc.integer({ min: -25, max: 22 }),
  days: fc.oneof(
    { weight: 9, arbitrary: fc.integer({ min: 1, max: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 366 }) },
  ),
})

const runArb = fc
  .record({
    users: fc.integer({ min: 1, max: 15 }),
    types: fc.shuffledSubarray(TYPES, { minLength: 3, maxLength: 5 }),
  })
  .chain(({ users, types }) =>
    fc.record({
      events: fc.array(genEvent(users, types), { maxLength: 200 }),
      // re-sends of some event_ids with other content, in a later request: they must change nothing
      repeats: fc.array(
        fc.record({ of: fc.nat(), upper: fc.boolean(), as: genEvent(users, types) }),
        { maxLength: 4 },
      ),
      dau: fc.array(range, { minLength: 2, maxLength: 2 }),
      top: fc.array(
        fc.record({ range, limit: fc.oneof(fc.integer({ min: 1, max: 6 }), fc.constant(1000)) }),
        { minLength: 2, maxLength: 2 },
      ),
      retention: fc.array(
        fc.record({
          start: fc.integer({ min: -25, max: 20 }),
          windows: fc.oneof(
            { weight: 5, arbitrary: fc.integer({ min: 1, max: 6 }) },
            { weight: 1, arbitrary: fc.constant(52) },
          ),
        }),
        { minLength: 2, maxLength: 2 },
      ),
    }),
  )

describe('GET /stats/* agrees with the reference on random data', {
  skip: await skipUnless('postgres'),
}, () => {
  let db: TestDatabase
  let t: TestApp
  /** every event posted to this database, in posting order (duplicates included; the reference drops them) */
  const posted: ReferenceEvent[] = []
  let run = 0

  before(async () => {
    db = await createTestDatabase()
    t = await startTestApp({ databaseUrl: db.url, queue: false })
  })
  after(async () => {
    await t?.close()
    await db?.drop()
  })

  async function post(events: ReferenceEvent[]): Promise<void> {
    if (events.length === 0) return
    const res = await t.app.inject({ method: 'POST', url: '/events', payload: events as object[] })
    assert.equal(res.statusCode, 201, res.body)
    posted.push(...events)
  }

  async function check(url: string, expected: unknown): Promise<void> {
    const res = await t.app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 200, `GET ${url}: ${res.body}`)
    const actual: unknown = res.json()
    if (!isDeepStrictEqual(actual, expected)) {
      // Still a failure; but say whether the answer was only late (the replica had not caught up) or wrong.
      await new Promise((r) => setTimeout(r, 500))
      await t.deps.analytics!.catchUp()
      const later: unknown = (await t.app.inject({ method: 'GET', url })).json()
      const diagnosis = isDeepStrictEqual(later, expected)
        ? 'it matches after a pause and a second catchUp(): the first catchUp() resolved before every committed row was in the replica'
        : 'a second catchUp() 500 ms later does not fix it'
      throw new Error(
        `GET ${url} (run ${run}, ${posted.length} events posted so far) differs from the reference (${diagnosis}):\n${differences(actual, expected)}`,
      )
    }
  }

  test('DAU, top events and retention equal the reference for random events and queries', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(runArb, async (input) => {
        run += 1
        const userId = (g: GenEvent) =>
          g.shared !== null ? SHARED_USERS[g.shared]! : `r${run}-u${g.user}`
        const events: ReferenceEvent[] = input.events.map((g) => ({
          event_id: randomUUID(),
          occurred_at: occurredAt(g),
          user_id: userId(g),
          event_type: g.type,
        }))
        await post(events)
        if (events.length > 0) {
          await post(
            input.repeats.map(({ of, upper, as }) => {
              const id = events[of % events.length]!.event_id
              return {
                event_id: upper ? id.toUpperCase() : id,
                occurred_at: occurredAt(as),
                user_id: userId(as),
                event_type: as.type,
              }
            }),
          )
        }
        await t.deps.analytics!.catchUp()

        for (const r of input.dau) {
          const from = addDays(BASE_DAY, r.from)
          const to = addDays(from, r.days - 1)
          await check(`/stats/dau?from=${from}&to=${to}`, referenceDau(posted, from, to))
        }
        for (const { range: r, limit } of input.top) {
          const from = addDays(BASE_DAY, r.from)
          const to = addDays(from, r.days - 1)
          const expected = referenceTopEvents(posted, from, to, limit)
          await check(`/stats/top-events?from=${from}&to=${to}&limit=${limit}`, expected)
          // The endpoint picks rollups or a scan by size (small data: the scan); both must agree.
          const days = { from: dayNumber(from), to: dayNumber(to) }
          for (const plan of ['rollups', 'scan'] as const) {
            const answer = await topEvents(t.deps.analytics!.replica, days, limit, [], plan)
            assert.deepEqual(answer, expected, `top events by ${plan}, ${from}..${to}`)
          }
        }
        for (const { start, windows } of input.retention) {
          const startDate = addDays(BASE_DAY, start)
          await check(
            `/stats/retention?start_date=${startDate}&windows=${windows}`,
            referenceRetention(posted, startDate, windows),
          )
        }
      }),
      // FC_SEED=<seed printed by a failure> replays the same inputs (on a fresh database, as then).
      {
        numRuns: 40,
        endOnFailure: true,
        ...(process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {}),
      },
    )
  })
})

/** The rows (or fields) that differ, as 'expected … got …' lines, at most 15. */
function differences(actual: unknown, expected: unknown): string {
  const lines: string[] = []
  const compare = (path: string, a: unknown, e: unknown) => {
    if (Array.isArray(a) && Array.isArray(e)) {
      if (a.length !== e.length) lines.push(`${path}.length: expected ${e.length}, got ${a.length}`)
      for (let i = 0; i < Math.max(a.length, e.length); i++) {
        if (!isDeepStrictEqual(a[i], e[i]))
          lines.push(`${path}[${i}]: expected ${JSON.stringify(e[i])}, got ${JSON.stringify(a[i])}`)
      }
    } else if (a !== null && e !== null && typeof a === 'object' && typeof e === 'object') {
      for (const key of new Set([...Object.keys(a), ...Object.keys(e)])) {
        const [av, ev] = [(a as Record<string, unknown>)[key], (e as Record<string, unknown>)[key]]
        if (!isDeepStrictEqual(av, ev)) compare(`${path}.${key}`, av, ev)
      }
    } else {
      lines.push(`${path}: expected ${JSON.stringify(e)}, got ${JSON.stringify(a)}`)
    }
  }
  compare('body', actual, expected)
  return (
    lines.slice(0, 15).join('\n') + (lines.length > 15 ? `\n… and ${lines.length - 15} more` : '')
  )
}
