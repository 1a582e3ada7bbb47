import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { parseTimestamp, parseTimestampByPattern, storable } from '../../src/events/timestamps.ts'

test('UTC and offset times become the same canonical UTC form', () => {
  assert.deepEqual(parseTimestamp('2026-03-01T00:00:00Z'), {
    ms: Date.UTC(2026, 2, 1),
    utc: '2026-03-01T00:00:00.000Z',
  })
  assert.equal(parseTimestamp('2026-03-01T00:00:00-05:30')?.utc, '2026-03-01T05:30:00.000Z')
  assert.equal(parseTimestamp('2026-03-02T01:00:00+02:00')?.utc, '2026-03-01T23:00:00.000Z')
  assert.equal(parseTimestamp('2026-03-01t00:00:00.5z')?.utc, '2026-03-01T00:00:00.500Z')
  assert.equal(parseTimestamp('2026-03-01 23:59:59.999999Z')?.utc, '2026-03-01T23:59:59.999999Z')
  assert.equal(
    parseTimestamp('2026-03-01T23:59:59.9999999+01:00')?.utc,
    '2026-03-01T22:59:59.999999Z',
  )
})

test('impossible or zone-less times are refused', () => {
  for (const bad of [
    '2026-02-29T00:00:00Z',
    '2026-04-31T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-01-01T24:00:00Z',
    '2026-01-01T23:60:00Z',
    '2026-12-31T23:59:60Z',
    '2026-01-01T00:00:00',
    '2026-01-01',
    '2026-01-01T00:00:00+2:00',
    'now',
  ]) {
    assert.equal(parseTimestamp(bad), undefined, bad)
  }
  assert.ok(parseTimestamp('2024-02-29T00:00:00Z'), 'a leap day is a day')
})

test('years 1 to 99 keep their year; only 0001 to 9999 in UTC is storable (PostgreSQL has no year 0)', () => {
  assert.deepEqual(parseTimestamp('0050-06-15T10:00:00+01:00'), {
    ms: Date.parse('0050-06-15T09:00:00Z'),
    utc: '0050-06-15T09:00:00.000Z',
  })
  assert.equal(
    parseTimestamp('0099-12-31T23:59:59.999Z')?.ms,
    Date.parse('0099-12-31T23:59:59.999Z'),
  )
  const storableOf = (text: string) => storable(parseTimestamp(text)!)
  assert.equal(storableOf('0001-01-01T00:00:00Z'), true)
  assert.equal(storableOf('9999-12-31T23:59:59.999999Z'), true)
  for (const out of [
    '0000-06-15T10:00:00Z',
    '0000-12-31T23:59:59.999Z',
    '0001-01-01T00:30:00+01:00',
    '9999-12-31T23:30:00-01:00',
  ]) {
    assert.equal(storableOf(out), false, out)
  }
})

test('agrees with Date for any valid time and offset', () => {
  fc.assert(
    fc.property(
      // Years 1 to 99 included: Date.UTC reads them as 1901 to 1999.
      fc.date({
        min: new Date('0001-01-02T00:00:00Z'),
        max: new Date('9999-12-30T00:00:00Z'),
        noInvalidDate: true,
      }),
      fc.integer({ min: -14 * 60, max: 14 * 60 }),
      (date, offsetMinutes) => {
        const local = new Date(date.getTime() + offsetMinutes * 60_000).toISOString().slice(0, -1)
        const sign = offsetMinutes < 0 ? '-' : '+'
        const abs = Math.abs(offsetMinutes)
        const text = `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`
        const parsed = parseTimestamp(text)
        assert.equal(parsed?.ms, date.getTime(), text)
        assert.equal(parsed?.utc, date.toISOString(), text)
      },
    ),
  )
})

test('the fast path for YYYY-MM-DDTHH:MM:SS.mmmZ answers exactly as the general pattern does', () => {
  const d = (n: number) =>
    fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: n, maxLength: n })
  const upTo = (max: number) => fc.integer({ min: 0, max }).map((n) => String(n).padStart(2, '0'))
  // Calendar values just inside and just outside their ranges, and near misses of the shape (other separators, lengths, letters).
  const shaped = fc
    .tuple(
      fc.oneof(d(4), fc.constantFrom('2024', '2100', '2000', '0000')),
      upTo(13),
      upTo(32),
      fc.constantFrom('T', 't', ' '),
      upTo(24),
      upTo(60),
      upTo(60),
      fc.constantFrom('.123', '.5', '.000', '.999999', ''),
      fc.constantFrom('Z', 'Z', 'z', '+00:00'),
    )
    .map(([y, mo, day, t, h, mi, s, f, z]) => `${y}-${mo}-${day}${t}${h}:${mi}:${s}${f}${z}`)
  const near = fc
    .tuple(
      fc.date({
        noInvalidDate: true,
        min: new Date('0000-01-01T00:00:00Z'),
        max: new Date('9999-12-31T23:59:59Z'),
      }),
      fc.nat(23),
      fc.constantFrom('a', '/', '٣', '-', ':'),
    )
    .map(([date, at, c]) => {
      const iso = date.toISOString()
      return iso.length === 24 ? iso.slice(0, at) + c + iso.slice(at + 1) : iso
    })
  const valid = fc
    .date({
      noInvalidDate: true,
      min: new Date('0000-01-01T00:00:00Z'),
      max: new Date('9999-12-31T23:59:59Z'),
    })
    .map((date) => date.toISOString())
  fc.assert(
    fc.property(fc.oneof(shaped, near, valid), (text) => {
      assert.deepEqual(parseTimestamp(text), parseTimestampByPattern(text))
    }),
    { numRuns: 20_000 },
  )
})
