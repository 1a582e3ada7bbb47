import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import {
  addDays,
  compareCodePoints,
  daysBetween,
  dedupe,
  percentOneDecimal,
  type ReferenceEvent,
  referenceDau,
  referenceRetention,
  referenceTopEvents,
  utcDay,
} from './reference.ts'

// The oracle checked on inputs small enough to verify by eye; no servers.

let n = 0
function ev(
  user_id: string,
  occurred_at: string,
  event_type = 'page_view',
  event_id?: string,
): ReferenceEvent {
  n += 1
  return {
    event_id: event_id ?? `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    occurred_at,
    user_id,
    event_type,
  }
}

describe('reference helpers', () => {
  test('utcDay takes the UTC calendar day, whatever the offset', () => {
    assert.equal(utcDay('2026-03-01T00:00:00Z'), '2026-03-01')
    assert.equal(utcDay('2026-03-01T23:59:59.999999Z'), '2026-03-01')
    assert.equal(utcDay('2026-03-02T01:00:00+02:00'), '2026-03-01')
    assert.equal(utcDay('2026-02-28T23:59:59.999999-12:00'), '2026-03-01')
    assert.equal(utcDay('2026-03-01T13:59:59.999999+14:00'), '2026-02-28')
    assert.equal(utcDay('2026-03-01T14:00:00+14:00'), '2026-03-01')
    assert.equal(utcDay('2026-02-28T19:00:00-05:00'), '2026-03-01')
    assert.throws(() => utcDay('nope'))
  })

  test('addDays and daysBetween cross month and year ends', () => {
    assert.equal(addDays('2026-02-28', 1), '2026-03-01')
    assert.equal(addDays('2028-02-28', 1), '2028-02-29')
    assert.equal(addDays('2026-12-31', 1), '2027-01-01')
    assert.equal(addDays('2026-03-01', -1), '2026-02-28')
    assert.deepEqual(daysBetween('2026-02-27', '2026-03-02'), [
      '2026-02-27',
      '2026-02-28',
      '2026-03-01',
      '2026-03-02',
    ])
    assert.deepEqual(daysBetween('2026-03-01', '2026-03-01'), ['2026-03-01'])
    assert.equal(daysBetween('2026-01-01', '2027-01-01').length, 366)
  })

  test('dedupe keeps the first of each event_id, case-insensitively', () => {
    const a = ev('u1', '2026-03-01T00:00:00Z', 'a', 'AAAAAAAA-0000-4000-8000-000000000001')
    const b = ev('u2', '2026-03-05T00:00:00Z', 'b', 'aaaaaaaa-0000-4000-8000-000000000001')
    const c = ev('u3', '2026-03-05T00:00:00Z', 'c')
    assert.deepEqual(dedupe([a, b, c]), [a, c])
  })

  test('percentOneDecimal rounds to one decimal, halves away from zero', () => {
    assert.equal(percentOneDecimal(0, 0), 0)
    assert.equal(percentOneDecimal(0, 5), 0)
    assert.equal(percentOneDecimal(5, 5), 100)
    assert.equal(percentOneDecimal(1, 3), 33.3)
    assert.equal(percentOneDecimal(2, 3), 66.7)
    assert.equal(percentOneDecimal(1, 7), 14.3)
    assert.equal(percentOneDecimal(1, 16), 6.3) // 6.25
    assert.equal(percentOneDecimal(3, 16), 18.8) // 18.75
    assert.equal(percentOneDecimal(1, 80), 1.3) // 1.25
    assert.equal(percentOneDecimal(1, 2000), 0.1) // 0.05, not exact in binary
    assert.equal(percentOneDecimal(1, 2001), 0) // 0.04997...
    // Away from ties it agrees with the naive formula.
    for (let whole = 1; whole <= 60; whole++) {
      for (let part = 0; part <= whole; part++) {
        if ((2000 * part) % whole === 0 && ((2000 * part) / whole) % 2 === 1) continue // a tie
        assert.equal(
          percentOneDecimal(part, whole),
          Math.round(((100 * part) / whole) * 10) / 10,
          `${part}/${whole}`,
        )
      }
    }
  })

  test('compareCodePoints is binary order', () => {
    assert.ok(compareCodePoints('Signup', 'click') < 0)
    assert.ok(compareCodePoints('search', 'signup') < 0)
    assert.ok(compareCodePoints('a', 'ab') < 0)
    assert.equal(compareCodePoints('x', 'x'), 0)
    // U+FF5E (one UTF-16 unit) sorts before U+1F600 (a surrogate pair) by code point,
    // although '\uFF5E' > '\uD83D' as UTF-16 units.
    assert.ok(compareCodePoints('\uFF5E', '😀') < 0)
    assert.ok('\uFF5E' > '😀')
  })
})

describe('referenceDau', () => {
  test('one row per day, zeros included, distinct users per UTC day', () => {
    const events = [
      ev('alice', '2026-03-01T00:00:00Z'),
      ev('alice', '2026-03-01T12:00:00Z', 'click'),
      ev('bob', '2026-03-01T23:59:59.999999Z'),
      ev('carol', '2026-03-04T01:00:00+02:00'), // 2026-03-03 UTC
      ev('dave', '2026-03-04T00:00:00Z'),
      ev('erin', '2026-03-05T00:00:00Z'), // after the range
      ev('frank', '2026-02-28T23:59:59Z'), // before the range
    ]
    assert.deepEqual(referenceDau(events, '2026-03-01', '2026-03-04'), [
      { date: '2026-03-01', unique_users: 2 },
      { date: '2026-03-02', unique_users: 0 },
      { date: '2026-03-03', unique_users: 1 },
      { date: '2026-03-04', unique_users: 1 },
    ])
  })

  test('no events: all zeros; a later duplicate id does not count', () => {
    assert.deepEqual(referenceDau([], '2026-03-01', '2026-03-02'), [
      { date: '2026-03-01', unique_users: 0 },
      { date: '2026-03-02', unique_users: 0 },
    ])
    const first = ev('alice', '2026-03-01T10:00:00Z')
    const again = { ...first, user_id: 'mallory', occurred_at: '2026-03-02T10:00:00Z' }
    assert.deepEqual(referenceDau([first, again], '2026-03-01', '2026-03-02'), [
      { date: '2026-03-01', unique_users: 1 },
      { date: '2026-03-02', unique_users: 0 },
    ])
  })

  test('refuses a reversed range (a bug in the calling test)', () => {
    assert.throws(() => referenceDau([], '2026-03-02', '2026-03-01'))
    assert.throws(() => referenceDau([], '2026-02-30', '2026-03-01'))
  })
})

describe('referenceTopEvents', () => {
  const events = [
    ev('alice', '2026-03-01T00:00:00Z', 'page_view'),
    ev('alice', '2026-03-01T01:00:00Z', 'page_view'),
    ev('bob', '2026-03-01T02:00:00Z', 'page_view'),
    ev('alice', '2026-03-02T00:00:00Z', 'signup'),
    ev('bob', '2026-03-02T00:00:00Z', 'signup'),
    ev('carol', '2026-03-02T00:00:00Z', 'click'),
    ev('carol', '2026-03-02T01:00:00Z', 'click'),
    ev('dave', '2026-03-02T00:00:00Z', 'Zoom'),
    ev('dave', '2026-03-03T00:00:00-05:00', 'purchase'), // 2026-03-03 05:00 UTC, outside
  ]

  test('count desc, then event_type asc (code points), with distinct users', () => {
    assert.deepEqual(referenceTopEvents(events, '2026-03-01', '2026-03-02', 10), [
      { event_type: 'page_view', count: 3, unique_users: 2 },
      { event_type: 'click', count: 2, unique_users: 1 },
      { event_type: 'signup', count: 2, unique_users: 2 },
      { event_type: 'Zoom', count: 1, unique_users: 1 },
    ])
  })

  test('limit cuts the sorted list, even between ties', () => {
    assert.deepEqual(referenceTopEvents(events, '2026-03-01', '2026-03-02', 2), [
      { event_type: 'page_view', count: 3, unique_users: 2 },
      { event_type: 'click', count: 2, unique_users: 1 },
    ])
  })

  test('an empty range is an empty list', () => {
    assert.deepEqual(referenceTopEvents(events, '2026-03-10', '2026-03-20', 10), [])
  })

  test('the range is inclusive and by UTC day', () => {
    assert.deepEqual(referenceTopEvents(events, '2026-03-03', '2026-03-03', 10), [
      { event_type: 'purchase', count: 1, unique_users: 1 },
    ])
  })
})

describe('referenceRetention', () => {
  const events = [
    ev('old', '2026-02-20T12:00:00Z'), // first seen before the cohort week
    ev('old', '2026-03-03T12:00:00Z'), // active during it: still not in the cohort
    ev('old', '2026-03-10T12:00:00Z'),
    ev('a', '2026-03-02T00:00:00Z'), // first instant of the cohort week
    ev('a', '2026-03-09T00:00:00Z'), // first instant of week 1
    ev('b', '2026-03-08T23:59:59.999999Z'), // last instant of the cohort week
    ev('b', '2026-03-22T23:59:59.999999Z'), // last instant of week 2
    ev('c', '2026-03-09T01:00:00+02:00'), // 2026-03-08 23:00 UTC: in the cohort
    ev('d', '2026-03-08T20:00:00-05:00'), // 2026-03-09 01:00 UTC: NOT in the cohort
    ev('e', '2026-03-01T23:59:59Z'), // the day before
  ]

  test('cohort by first event ever, retained per later week', () => {
    assert.deepEqual(referenceRetention(events, '2026-03-02', 3), {
      start_date: '2026-03-02',
      cohort_size: 3,
      retention: [
        { week: 1, week_start: '2026-03-09', retained_users: 1, retention_rate: 33.3 },
        { week: 2, week_start: '2026-03-16', retained_users: 1, retention_rate: 33.3 },
        { week: 3, week_start: '2026-03-23', retained_users: 0, retention_rate: 0 },
      ],
    })
  })

  test('a user first seen earlier, even by an event posted later, leaves the cohort', () => {
    const withEarlier = [...events, ev('a', '2026-02-01T00:00:00Z')]
    assert.equal(referenceRetention(withEarlier, '2026-03-02', 1).cohort_size, 2)
  })

  test('an empty cohort: size 0 and every rate 0', () => {
    assert.deepEqual(referenceRetention(events, '2026-04-06', 2), {
      start_date: '2026-04-06',
      cohort_size: 0,
      retention: [
        { week: 1, week_start: '2026-04-13', retained_users: 0, retention_rate: 0 },
        { week: 2, week_start: '2026-04-20', retained_users: 0, retention_rate: 0 },
      ],
    })
  })

  test('activity in the cohort week itself is not week 1', () => {
    const r = referenceRetention(
      [ev('x', '2026-03-02T00:00:00Z'), ev('x', '2026-03-08T23:00:00Z')],
      '2026-03-02',
      1,
    )
    assert.deepEqual(r.retention, [
      { week: 1, week_start: '2026-03-09', retained_users: 0, retention_rate: 0 },
    ])
    assert.equal(r.cohort_size, 1)
  })

  test('a 52-week answer has 52 rows with week_start every 7 days', () => {
    const r = referenceRetention(events, '2026-03-02', 52)
    assert.equal(r.retention.length, 52)
    assert.equal(r.retention[51]!.week_start, '2027-03-01')
  })
})
