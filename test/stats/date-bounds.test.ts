import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { getOk, type ServerTestApp, startServerTestApp } from '../helpers/app.ts'
import { skipUnless } from '../helpers/services.ts'

// Days are 0001-01-01 to 9999-12-31 (four-digit years, as events have them).
// A query whose answer would name a day outside them is the client's mistake,
// a 422 naming the parameter, never a 500 from an answer that fails its schema.
describe('stats dates at the edges of the representable range', {
  skip: await skipUnless('postgres'),
}, () => {
  let t: ServerTestApp

  before(async () => {
    t = await startServerTestApp({ queue: false })
  })
  after(async () => {
    await t?.close()
  })

  async function problem(url: string) {
    const res = await t.app.inject({ method: 'GET', url })
    assert.equal(res.statusCode, 422, `${url}: ${res.body}`)
    assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
    const { request_id: id, ...body } = res.json()
    assert.equal(typeof id, 'string')
    return body
  }
  const invalid = (url: string, errors: Array<{ field: string; message: string }>) => ({
    type: 'about:blank',
    title: 'Unprocessable Content',
    status: 422,
    code: 'VALIDATION_ERROR',
    detail: `${errors.length} invalid parameter(s)`,
    instance: url,
    errors,
  })

  test('retention whose windows would start after 9999-12-31 is a 422 naming start_date, or windows', async () => {
    for (const [url, field, message] of [
      [
        '/stats/retention?start_date=9999-12-31&windows=1',
        'start_date',
        'leaves no room for one week before 9999-12-31: at most 9999-12-24',
      ],
      [
        '/stats/retention?start_date=9999-12-31&period=day&windows=1',
        'start_date',
        'leaves no room for one day before 9999-12-31: at most 9999-12-30',
      ],
      [
        '/stats/retention?start_date=9999-12-25&period=day&windows=90',
        'windows',
        'at most 6 days fit between start_date and 9999-12-31',
      ],
      [
        '/stats/retention?start_date=9999-10-01&windows=52',
        'windows',
        'at most 13 weeks fit between start_date and 9999-12-31',
      ],
    ] as const) {
      assert.deepEqual(await problem(url), invalid(url, [{ field, message }]), url)
    }
  })

  test('the last windows that fit are answered', async () => {
    const weekly = await getOk(t.app, '/stats/retention?start_date=9999-12-24&windows=1')
    assert.deepEqual(weekly, {
      start_date: '9999-12-24',
      cohort_size: 0,
      retention: [{ week: 1, week_start: '9999-12-31', retained_users: 0, retention_rate: 0 }],
    })
    const daily = await getOk(t.app, '/stats/retention?start_date=9999-12-25&period=day&windows=6')
    assert.equal(daily.retention.at(-1).date, '9999-12-31')
  })

  test('ranges ending 9999-12-31 are answered, cohorts included', async () => {
    const dau = await getOk(t.app, '/stats/dau?from=9999-12-30&to=9999-12-31')
    assert.deepEqual(dau, [
      { date: '9999-12-30', unique_users: 0 },
      { date: '9999-12-31', unique_users: 0 },
    ])
    const cohorts = await getOk(t.app, '/stats/cohorts?from=9999-12-01&to=9999-12-31')
    assert.equal(cohorts.cohorts.length, 5)
    assert.equal(cohorts.cohorts[0].retention.at(-1).week_start, '9999-12-29')
  })

  test('days before 0001-01-01 are a 422 on every stats route', async () => {
    const message = 'must be a calendar date as YYYY-MM-DD, from 0001-01-01 to 9999-12-31'
    for (const [url, fields] of [
      ['/stats/retention?start_date=0000-12-31&period=day&windows=1', ['start_date']],
      ['/stats/dau?from=0000-12-30&to=0001-01-01', ['from']],
      ['/stats/top-events?from=0000-01-01&to=0000-01-02', ['from', 'to']],
      ['/stats/cohorts?from=0000-01-01&to=0000-12-31', ['from', 'to']],
      ['/stats/breakdown?from=0000-01-01&to=0001-01-01&by=event_type', ['from']],
    ] as const) {
      assert.deepEqual(
        await problem(url),
        invalid(
          url,
          fields.map((field) => ({ field, message })),
        ),
        url,
      )
    }
    assert.deepEqual(await getOk(t.app, '/stats/dau?from=0001-01-01&to=0001-01-01'), [
      { date: '0001-01-01', unique_users: 0 },
    ])
  })
})
