import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { LightMyRequestResponse } from 'fastify'
import { quotaDay } from '../../src/http/quota/quota-store.ts'
import type { Project } from '../../src/projects/project-store.ts'
import type { TestApp } from '../helpers/app.ts'
import { makeEvent, makeEvents, waitFor } from '../helpers/events.ts'
import {
  PausableWorker,
  PROJECT_MODES,
  problemWithoutRequest,
  startProjectApp,
  storedPerProject,
  waitStored,
} from '../helpers/projects.ts'
import { parsePrometheusText, sampleValue } from '../helpers/prometheus.ts'
import { dedupe, type ReferenceEvent } from '../stats/reference.ts'
import { alphaEvents, betaEvents, STATS_QUERIES } from './fixtures.ts'
import { referenceAnswer, statsUrl } from './references.ts'

// Projects keep apps apart on every endpoint: two projects of different data
// (alpha, beta; users in common and a few event_ids too), an empty one
// (gamma) and default. A key of one never sees, counts, replays or changes
// another's events, and naming another project is refused the same way
// whether it exists or not. Every answer is compared with the reference over
// the project's own events (posted[name], in posting order).

type Keys = { read: string; write: string; admin: string }
const NAMES = ['default', 'alpha', 'beta', 'gamma'] as const
type Name = (typeof NAMES)[number]

const READ_ROUTES = [
  '/stats/dau?from=2026-05-01&to=2026-05-31',
  '/stats/top-events?from=2026-05-01&to=2026-05-31',
  '/stats/retention?start_date=2026-05-04',
  '/stats/retention?start_date=2026-05-04&period=day',
  '/stats/breakdown?from=2026-05-01&to=2026-05-31&by=properties.plan',
  '/stats/range',
  '/stats/cohorts?from=2026-05-04&to=2026-05-31',
  '/events/queue/status',
]
const withProject = (url: string, name: string) =>
  `${url}${url.includes('?') ? '&' : '?'}project=${encodeURIComponent(name)}`

for (const mode of PROJECT_MODES) {
  describe(`projects are apart on every endpoint, ${mode.name}`, { skip: mode.skip }, () => {
    let t: TestApp
    let worker: PausableWorker
    const projects = {} as Record<Name, Project>
    const keys = {} as Record<Name, Keys>
    let service = ''
    /** every event each project accepted, in posting order (duplicates included) */
    const posted: Record<Name, ReferenceEvent[]> = {
      default: [],
      alpha: [],
      beta: [],
      gamma: [],
    }
    /** answers of a service-wide key without project=, with one project and then two */
    const staged: { one?: LightMyRequestResponse; two?: LightMyRequestResponse } = {}

    const auth = (key: string) => ({ authorization: `Bearer ${key}` })
    const get = (url: string, key: string) =>
      t.app.inject({ method: 'GET', url, headers: auth(key) })
    const post = (
      events: readonly ReferenceEvent[],
      key: string,
      options: { project?: string; idempotencyKey?: string } = {},
    ) =>
      t.app.inject({
        method: 'POST',
        url: options.project ? withProject('/events', options.project) : '/events',
        payload: events as object[],
        headers: {
          ...auth(key),
          ...(options.idempotencyKey ? { 'idempotency-key': options.idempotencyKey } : {}),
        },
      })
    const accepted = (n: number, inserted: number) => ({
      total_received: n,
      inserted,
      duplicates: n - inserted,
      message: mode.queue ? 'events accepted for processing' : 'events stored',
    })
    /** Posts and checks the answer; what a project accepted goes to its reference. */
    const postOk = async (
      name: Name,
      events: readonly ReferenceEvent[],
      key: string,
      inserted: number,
      options: { project?: string; idempotencyKey?: string } = {},
    ) => {
      const res = await post(events, key, options)
      assert.equal(res.statusCode, mode.status, res.body)
      assert.deepEqual(res.json(), accepted(events.length, inserted))
      posted[name].push(...events)
      return res
    }
    /** The stored counts every project should have, by the reference. */
    const expected = () =>
      Object.fromEntries(NAMES.map((n) => [projects[n].id, dedupe(posted[n]).length]))
    const settle = async () => {
      await waitStored(t, expected())
      await t.deps.analytics!.catchUp()
    }

    before(async () => {
      t = await startProjectApp(mode)
      worker = new PausableWorker(t)
      worker.start()
      service = (await t.deps.apiKeys.create('admin', 'service-wide', null)).key
      // One project: a service-wide key need not name it.
      staged.one = await get('/stats/range', service)
      projects.default = (await t.deps.projects.list())[0]!
      projects.alpha = await t.deps.projects.create('alpha')
      staged.two = await get('/stats/range', service)
      projects.beta = await t.deps.projects.create('beta')
      projects.gamma = await t.deps.projects.create('gamma')
      for (const name of NAMES) {
        const key = async (scope: keyof Keys) =>
          (await t.deps.apiKeys.create(scope, `${name} ${scope}`, projects[name].id)).key
        keys[name] = {
          read: await key('read'),
          write: await key('write'),
          admin: await key('admin'),
        }
      }
      await postOk('alpha', alphaEvents(), keys.alpha.write, 45)
      // Its first 6 event_ids are alpha's: in beta they are new events.
      await postOk('beta', betaEvents(), keys.beta.write, 35)
      await settle()
    })
    after(async () => {
      await worker?.stop()
      await t?.close()
    })

    test('a service-wide key names the project: optional with one project, 422 PROJECT_REQUIRED with two or more, 404 for an unknown name; writes go to default', async () => {
      assert.equal(staged.one!.statusCode, 200, staged.one!.body)
      assert.deepEqual(staged.one!.json(), { first_day: null, last_day: null })
      assert.equal(staged.two!.statusCode, 422)
      assert.deepEqual(problemWithoutRequest(staged.two!), {
        type: 'about:blank',
        title: 'Unprocessable Content',
        status: 422,
        code: 'PROJECT_REQUIRED',
        detail:
          'this service holds 2 projects (default, alpha): name one with the project query parameter',
        errors: [{ field: 'project', message: 'required: name one of 2 projects' }],
      })
      for (const url of READ_ROUTES) {
        const res = await get(url, service)
        assert.equal(res.statusCode, 422, `${url}: ${res.body}`)
        assert.deepEqual(
          problemWithoutRequest(res),
          {
            type: 'about:blank',
            title: 'Unprocessable Content',
            status: 422,
            code: 'PROJECT_REQUIRED',
            detail:
              'this service holds 4 projects (default, alpha, beta, gamma): name one with the project query parameter',
            errors: [{ field: 'project', message: 'required: name one of 4 projects' }],
          },
          url,
        )
        const unknown = await get(withProject(url, 'ghost'), service)
        assert.equal(unknown.statusCode, 404, `${url}: ${unknown.body}`)
        assert.deepEqual(problemWithoutRequest(unknown), {
          type: 'about:blank',
          title: 'Not Found',
          status: 404,
          code: 'PROJECT_NOT_FOUND',
          detail: 'there is no project "ghost"',
        })
        assert.equal((await get(withProject(url, 'gamma'), service)).statusCode, 200, url)
      }
      const unknownWrite = await post(makeEvents(2), service, { project: 'ghost' })
      assert.equal(unknownWrite.statusCode, 404)
      assert.equal(unknownWrite.json().code, 'PROJECT_NOT_FOUND')

      const before = await storedPerProject(t)
      const events = makeEvents(2, { occurred_at: '2026-05-20T08:00:00Z', event_type: 'boot' })
      await postOk('default', events, service, 2)
      await waitStored(t, expected())
      const after = await storedPerProject(t)
      assert.deepEqual(after, { ...before, [projects.default.id]: 2 }, 'in default, nowhere else')
    })

    test('POST /events: the same event_id in two projects is two events; a resend within one is a duplicate', async () => {
      const inAlpha = makeEvent({ occurred_at: '2026-05-12T10:00:00Z', user_id: 'u1' })
      const inBeta = { ...inAlpha, user_id: 'u9', event_type: 'purchase', properties: { n: 6 } }
      await postOk('alpha', [inAlpha], keys.alpha.write, 1)
      await waitStored(t, expected())
      // Stored in alpha already: beta must not take it for a duplicate.
      await postOk('beta', [inBeta], keys.beta.write, 1)
      await waitStored(t, expected())
      const rows = async () =>
        (
          await t.deps.db.query<Record<string, unknown>>(
            'SELECT project_id, user_id, event_type, properties FROM events WHERE event_id = $1 ORDER BY project_id',
            [inAlpha.event_id],
          )
        ).rows
      const both = [
        {
          project_id: projects.alpha.id,
          user_id: 'u1',
          event_type: 'page_view',
          properties: { page: '/home' },
        },
        {
          project_id: projects.beta.id,
          user_id: 'u9',
          event_type: 'purchase',
          properties: { n: 6 },
        },
      ]
      assert.deepEqual(await rows(), both)

      // Resends within a project, by its own key or a service-wide one, in any case of the id.
      const changed = { ...inAlpha, event_type: 'changed', user_id: 'u2' }
      await postOk('alpha', [changed], keys.alpha.write, 0)
      await postOk(
        'alpha',
        [{ ...changed, event_id: inAlpha.event_id.toUpperCase() }],
        service,
        0,
        {
          project: 'alpha',
        },
      )
      await postOk('beta', [changed], service, 0, { project: 'beta' })
      await postOk('beta', [inBeta, inBeta], keys.beta.admin, 0)
      // And a batch that holds it beside a new event: only the new one is added, where it was sent.
      const fresh = makeEvent({ occurred_at: '2026-05-13T10:00:00Z', user_id: 'u3' })
      await postOk('alpha', [changed, fresh], keys.alpha.admin, 1)
      await settle()
      assert.deepEqual(await rows(), both, 'the first stored version of each stays')
      const freshRows = await t.deps.db.query<{ project_id: number }>(
        'SELECT project_id FROM events WHERE event_id = $1',
        [fresh.event_id],
      )
      assert.deepEqual(freshRows.rows, [{ project_id: projects.alpha.id }])
    })

    test('Idempotency-Key: the same key and body to two projects are two requests, each replayed in its own project only', async () => {
      const events = makeEvents(3, { occurred_at: '2026-05-15T09:00:00Z', event_type: 'idem' })
      const first = await postOk('alpha', events, service, 3, {
        project: 'alpha',
        idempotencyKey: 'same-key',
      })
      assert.equal(first.headers['idempotent-replayed'], undefined)
      // Same API key, same Idempotency-Key, same body: in beta it is a request of its own.
      const other = await postOk('beta', events, service, 3, {
        project: 'beta',
        idempotencyKey: 'same-key',
      })
      assert.equal(other.headers['idempotent-replayed'], undefined, "not alpha's answer")
      for (const name of ['alpha', 'beta'] as const) {
        const again = await post(events, service, { project: name, idempotencyKey: 'same-key' })
        assert.equal(again.statusCode, mode.status)
        assert.equal(again.headers['idempotent-replayed'], 'true', name)
        assert.deepEqual(again.json(), accepted(3, 3), `${name}'s own first answer`)
      }
      // Another body under the key: refused in alpha, where the key is used, and new in default.
      const otherBody = makeEvents(1, { occurred_at: '2026-05-15T09:00:00Z' })
      const mismatch = await post(otherBody, service, {
        project: 'alpha',
        idempotencyKey: 'same-key',
      })
      assert.equal(mismatch.statusCode, 422)
      assert.deepEqual(mismatch.json().errors, [
        { field: 'Idempotency-Key', message: 'already used with a different request body' },
      ])
      await postOk('default', otherBody, service, 1, { idempotencyKey: 'same-key' })
      // alpha's own key is another owner: its request runs, and finds the events stored.
      const own = await postOk('alpha', events, keys.alpha.write, 0, { idempotencyKey: 'same-key' })
      assert.equal(own.headers['idempotent-replayed'], undefined)
      await waitStored(t, expected())
      const { rows } = await t.deps.db.query<{ project_id: number; n: number }>(
        'SELECT project_id, count(*)::int AS n FROM events WHERE event_id = ANY($1::uuid[]) GROUP BY project_id ORDER BY project_id',
        [events.map((e) => e.event_id)],
      )
      assert.deepEqual(rows, [
        { project_id: projects.alpha.id, n: 3 },
        { project_id: projects.beta.id, n: 3 },
      ])
    })

    test("every /stats route answers from the project's own events, whoever asks for it", async () => {
      await settle()
      const answers = new Map<Name, unknown[]>()
      for (const name of NAMES) {
        const own: unknown[] = []
        for (const q of STATS_QUERIES) {
          const url = statsUrl(q)
          const expected = referenceAnswer(posted[name], q)
          for (const [who, res] of [
            [`${name}'s read key`, await get(url, keys[name].read)],
            [`${name}'s admin key naming it`, await get(statsUrl(q, name), keys[name].admin)],
            ['a service-wide key naming it', await get(statsUrl(q, name), service)],
          ] as const) {
            assert.equal(res.statusCode, 200, `${who}: ${url}: ${res.body}`)
            assert.deepEqual(res.json(), expected, `${who}: ${decodeURIComponent(url)}`)
          }
          own.push(expected)
        }
        answers.set(name, own)
      }
      // The data sets differ in every figure, so a mix-up could not pass unseen.
      for (const [i, q] of STATS_QUERIES.entries()) {
        assert.notDeepEqual(answers.get('alpha')![i], answers.get('beta')![i], statsUrl(q))
      }
    })

    test('GET /projects lists the projects a key may read', async () => {
      const all = await t.deps.projects.list()
      assert.deepEqual(
        all.map((p) => p.name),
        ['default', 'alpha', 'beta', 'gamma'],
      )
      const res = await get('/projects', service)
      assert.equal(res.statusCode, 200)
      assert.deepEqual(res.json(), all)
      for (const name of NAMES) {
        for (const scope of ['read', 'admin'] as const) {
          const own = await get('/projects', keys[name][scope])
          assert.equal(own.statusCode, 200)
          assert.deepEqual(
            own.json(),
            all.filter((p) => p.name === name),
            `${name} ${scope}`,
          )
        }
      }
      assert.equal((await get('/projects', keys.alpha.write)).statusCode, 403, 'needs read')
    })

    test('a key naming another project is 403, the same answer whether it exists, holds data or not', async () => {
      const before = await storedPerProject(t)
      const forbidden = {
        type: 'about:blank',
        title: 'Forbidden',
        status: 403,
        code: 'FORBIDDEN',
        detail: 'this key belongs to project "alpha" and reaches no other',
      }
      const calls: Array<[string, () => Promise<LightMyRequestResponse>]> = []
      for (const other of ['beta', 'gamma', 'default', 'ghost', 'Not-A-Name']) {
        for (const url of READ_ROUTES) {
          for (const key of [keys.alpha.read, keys.alpha.admin])
            calls.push([`GET ${url} naming ${other}`, () => get(withProject(url, other), key)])
        }
        for (const key of [keys.alpha.write, keys.alpha.admin]) {
          calls.push([
            `POST /events naming ${other}`,
            () => post(makeEvents(2), key, { project: other }),
          ])
          calls.push([
            `POST /events with an Idempotency-Key naming ${other}`,
            () => post(makeEvents(2), key, { project: other, idempotencyKey: 'k' }),
          ])
        }
      }
      for (const [what, call] of calls) {
        const res = await call()
        assert.equal(res.statusCode, 403, `${what}: ${res.body}`)
        assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8', what)
        assert.deepEqual(problemWithoutRequest(res), forbidden, what)
      }
      if (mode.queue) {
        const status = (await get('/events/queue/status?project=beta', service)).json()
        assert.equal(status.shared.queued_events, 0, 'nothing was queued')
      }
      assert.deepEqual(await storedPerProject(t), before, 'nothing was stored anywhere')
    })

    test('/events/queue/status: a project key sees its own figures, and the whole queue (shared) only a service-wide key', async () => {
      await settle()
      await worker.stop()
      const a1 = makeEvents(1, { occurred_at: '2026-05-20T10:00:00Z' })
      const a3 = makeEvents(3, { occurred_at: '2026-05-20T10:00:00Z' })
      const b7 = makeEvents(7, { occurred_at: '2026-05-21T10:00:00Z' })
      await postOk('alpha', a1, keys.alpha.write, 1)
      await postOk('alpha', a3, keys.alpha.write, 3)
      await postOk('beta', b7, keys.beta.write, 7)
      const status = async (key: string, project?: string) => {
        const res = await get(
          project ? withProject('/events/queue/status', project) : '/events/queue/status',
          key,
        )
        assert.equal(res.statusCode, 200, res.body)
        return res.json()
      }
      const figures = (s: Record<string, unknown>) => {
        const { sync, ...rest } = s
        return rest
      }
      if (mode.queue) {
        const max = t.config.queue.maxLength
        const own = (project: string, queued: number) => ({
          enabled: true,
          project,
          queued_events: queued,
          dead_lettered: 0,
          max_events: max,
        })
        assert.deepEqual(figures(await status(keys.alpha.read)), own('alpha', 4))
        assert.deepEqual(figures(await status(keys.alpha.admin, 'alpha')), own('alpha', 4))
        assert.deepEqual(figures(await status(keys.beta.read)), own('beta', 7))
        assert.deepEqual(figures(await status(keys.gamma.read)), own('gamma', 0))
        for (const project of ['alpha', 'gamma']) {
          const wide = await status(service, project)
          assert.deepEqual(
            { ...figures(wide), shared: undefined },
            { ...own(project, project === 'alpha' ? 4 : 0), shared: undefined },
          )
          assert.deepEqual(
            { length: wide.shared.length, queued: wide.shared.queued_events },
            { length: 3, queued: 11 },
            'the whole queue: three requests, eleven events',
          )
        }
        worker.start()
        await waitFor(
          "alpha's backlog stored",
          () => status(keys.alpha.read),
          (s) => s.queued_events === 0,
        )
      } else {
        for (const name of NAMES) {
          assert.deepEqual(figures(await status(keys[name].read)), {
            enabled: false,
            project: name,
          })
        }
      }
      await settle()
      // The sync's figures are the project's own too.
      const stored = await storedPerProject(t)
      for (const name of NAMES) {
        const s = await status(keys[name].read)
        assert.equal('shared' in s, false, `${name}: no shared figures for a project key`)
        assert.deepEqual(
          { rows_behind: s.sync.rows_behind, synced_rows: s.sync.synced_rows },
          { rows_behind: 0, synced_rows: stored[projects[name].id] ?? 0 },
          name,
        )
      }
    })

    test('the quota: past it a request is refused whole (429, Retry-After to UTC midnight, counted per project); the other project is unaffected', async () => {
      await settle()
      await t.deps.projects.setQuota('alpha', 5)
      const at = (n: number) => makeEvents(n, { occurred_at: '2026-05-22T10:00:00Z', user_id: 'q' })
      await postOk('alpha', at(3), keys.alpha.write, 3)
      const refuse = async (events: ReferenceEvent[], key: string, used: number, extra = {}) => {
        const earliest = quotaDay(Date.now()).retryAfterSeconds
        const res = await post(events, key, extra)
        const latest = quotaDay(Date.now()).retryAfterSeconds
        assert.equal(res.statusCode, 429, res.body)
        const retryAfter = Number(res.headers['retry-after'])
        assert.ok(
          retryAfter <= earliest && retryAfter >= latest,
          `Retry-After ${retryAfter} is the seconds to the next UTC midnight (${latest}..${earliest})`,
        )
        assert.deepEqual(problemWithoutRequest(res), {
          type: 'about:blank',
          title: 'Too Many Requests',
          status: 429,
          code: 'QUOTA_EXCEEDED',
          detail: `project "alpha" has accepted ${used} of its 5 events for today (UTC); these ${events.length} would pass it. Retry in ${retryAfter} s, after midnight UTC`,
        })
      }
      const refused = at(3)
      await refuse(refused, keys.alpha.write, 3, { idempotencyKey: 'over-quota' })
      await postOk('alpha', at(2), keys.alpha.admin, 2) // exactly up to it
      await refuse(at(1), keys.alpha.write, 5)
      await refuse(at(1), service, 5, { project: 'alpha' }) // the project's quota, whoever sends
      // beta has no quota, and alpha's does not touch it.
      await postOk(
        'beta',
        makeEvents(20, { occurred_at: '2026-05-22T10:00:00Z' }),
        keys.beta.write,
        20,
      )
      await settle()
      const refusedIds = await t.deps.db.query(
        'SELECT 1 FROM events WHERE event_id = ANY($1::uuid[])',
        [refused.map((e) => e.event_id)],
      )
      assert.equal(refusedIds.rows.length, 0, 'nothing of a refused request is stored')

      await new Promise((r) => setImmediate(r))
      const metrics = parsePrometheusText((await t.app.inject('/metrics')).body)
      assert.equal(sampleValue(metrics, 'ea_quota_refused_events_total', { project: 'alpha' }), 5)
      assert.equal(
        sampleValue(metrics, 'ea_quota_refused_events_total', { project: 'beta' }),
        undefined,
      )

      // A refusal is not kept as the Idempotency-Key's answer: with room again, the same request runs.
      await t.deps.projects.setQuota('alpha', 10)
      const retried = await postOk('alpha', refused, keys.alpha.write, 3, {
        idempotencyKey: 'over-quota',
      })
      assert.equal(retried.headers['idempotent-replayed'], undefined)
      await settle()
      const answer = await get(statsUrl(STATS_QUERIES[3]!), keys.alpha.read)
      assert.deepEqual(answer.json(), referenceAnswer(posted.alpha, STATS_QUERIES[3]!))
    })

    test('a full quota does not refuse a resend of events already stored: it adds nothing', {}, async () => {
      // alpha holds 8 of its 10 for today; fill it, then resend what it stored.
      const events = makeEvents(2, { occurred_at: '2026-05-23T10:00:00Z' })
      await postOk('alpha', events, keys.alpha.write, 2)
      await waitStored(t, expected())
      try {
        const res = await post(events, keys.alpha.write)
        assert.equal(res.statusCode, mode.status, `a resend at a full quota: ${res.body}`)
        assert.deepEqual(res.json(), accepted(2, 0))
        posted.alpha.push(...events)
        // One stored and one new: only the new one counts, and it would pass the quota.
        const mixed = await post([events[0]!, makeEvent()], keys.alpha.write)
        assert.equal(mixed.statusCode, 429)
        assert.match(
          mixed.json().detail,
          /has accepted 10 of its 10 events .*; these 1 would pass it/,
        )
      } finally {
        await t.deps.projects.setQuota('alpha', null)
      }
    })

    test("after all that, every figure is still each project's own", async () => {
      await settle()
      for (const name of NAMES) {
        for (const q of STATS_QUERIES) {
          const res = await get(statsUrl(q), keys[name].read)
          assert.deepEqual(res.json(), referenceAnswer(posted[name], q), `${name}: ${statsUrl(q)}`)
        }
      }
    })
  })
}
