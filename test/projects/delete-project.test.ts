import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Project } from '../../src/projects/project-store.ts'
import type { TestApp } from '../helpers/app.ts'
import { makeEvents, waitFor } from '../helpers/events.ts'
import {
  PausableWorker,
  PROJECT_MODES,
  problemWithoutRequest,
  startProjectApp,
  storedPerProject,
  waitStored,
} from '../helpers/projects.ts'
import { alphaEvents, betaEvents, STATS_QUERIES } from './fixtures.ts'
import { referenceAnswer, statsUrl } from './references.ts'

// Deleting a project: its rows, keys and replica schema go; the project
// beside it (sharing six event_ids and some user_ids with it) answers exactly
// as before; a project made again under the name starts empty.

for (const mode of PROJECT_MODES) {
  describe(`deleting a project, ${mode.name}`, { skip: mode.skip }, () => {
    let t: TestApp
    let worker: PausableWorker
    let service = ''
    let alpha: Project
    let beta: Project
    const keys = { alpha: { read: '', write: '' }, beta: { read: '', write: '' } }
    /** beta's answers before alpha is deleted */
    const betaBefore: unknown[] = []

    const auth = (key: string) => ({ authorization: `Bearer ${key}` })
    const get = (url: string, key: string) =>
      t.app.inject({ method: 'GET', url, headers: auth(key) })
    const post = (events: object[], key: string) =>
      t.app.inject({ method: 'POST', url: '/events', payload: events, headers: auth(key) })
    /** the DuckDB schemas of the replica file (any project's reader sees the whole file) */
    const schemas = async () =>
      (
        await t.deps.analytics!.replica.query<{ schema_name: string }>(
          `SELECT schema_name FROM duckdb_schemas() WHERE database_name = current_database() AND schema_name LIKE 'p%' ORDER BY schema_name`,
        )
      ).map((r) => r.schema_name)
    const tablesIn = async (schema: string) =>
      Number(
        (
          await t.deps.analytics!.replica.query<{ n: bigint }>(
            'SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = $1',
            [schema],
          )
        )[0]!.n,
      )

    before(async () => {
      t = await startProjectApp(mode)
      worker = new PausableWorker(t)
      worker.start()
      service = (await t.deps.apiKeys.create('admin', 'service-wide', null)).key
      alpha = await t.deps.projects.create('alpha')
      beta = await t.deps.projects.create('beta')
      for (const [name, project] of [
        ['alpha', alpha],
        ['beta', beta],
      ] as const) {
        keys[name].read = (await t.deps.apiKeys.create('read', name, project.id)).key
        keys[name].write = (await t.deps.apiKeys.create('write', name, project.id)).key
      }
      assert.equal((await post(alphaEvents(), keys.alpha.write)).statusCode, mode.status)
      assert.equal((await post(betaEvents(), keys.beta.write)).statusCode, mode.status)
      await waitStored(t, { [alpha.id]: 45, [beta.id]: 35 })
      await t.deps.analytics!.catchUp()
      for (const q of STATS_QUERIES) {
        const res = await get(statsUrl(q), keys.beta.read)
        assert.equal(res.statusCode, 200, res.body)
        assert.deepEqual(res.json(), referenceAnswer(betaEvents(), q), statsUrl(q))
        betaBefore.push(res.json())
      }
    })
    after(async () => {
      await worker?.stop()
      await t?.close()
    })

    test("after delete and reconcile the project's replica schema is gone, its keys get 401, and the other project answers as before", async () => {
      const [d, a, b] = [1, alpha.id, beta.id].map((id) => `p${id}`)
      assert.deepEqual(await schemas(), [d, a, b].sort())
      assert.ok((await tablesIn(a!)) > 0, "alpha's replica has tables")
      assert.deepEqual(await t.deps.analytics!.database.projectsOnFile(), [1, alpha.id, beta.id])

      const { project, events } = await t.deps.projects.delete('alpha')
      assert.deepEqual({ id: project.id, events }, { id: alpha.id, events: 45 })
      await t.deps.analytics!.reconcile()

      assert.deepEqual(await schemas(), [d, b].sort(), "alpha's schema is dropped")
      assert.equal(await tablesIn(a!), 0)
      assert.deepEqual(await t.deps.analytics!.database.projectsOnFile(), [1, beta.id])
      await assert.rejects(t.deps.analytics!.replicaOf(alpha.id), /no analytics for project/)

      for (const [what, res] of [
        ['a read', await get(statsUrl(STATS_QUERIES[0]!), keys.alpha.read)],
        ['a write', await post(makeEvents(2), keys.alpha.write)],
      ] as const) {
        assert.equal(res.statusCode, 401, `${what} with a deleted project's key: ${res.body}`)
        assert.deepEqual(problemWithoutRequest(res), {
          type: 'about:blank',
          title: 'Unauthorized',
          status: 401,
          code: 'UNAUTHORIZED',
          detail: 'unknown or revoked API key',
        })
      }
      const named = await get(statsUrl(STATS_QUERIES[0]!, 'alpha'), service)
      assert.equal(named.statusCode, 404)
      assert.equal(named.json().code, 'PROJECT_NOT_FOUND')

      assert.deepEqual(
        await storedPerProject(t),
        { [beta.id]: 35 },
        "beta's rows, the six ids alpha shared included",
      )
      const projects = await get('/projects', service)
      assert.deepEqual(
        projects.json().map((p: Project) => p.name),
        ['default', 'beta'],
      )
      await t.deps.analytics!.catchUp()
      for (const [i, q] of STATS_QUERIES.entries()) {
        const res = await get(statsUrl(q), keys.beta.read)
        assert.equal(res.statusCode, 200, res.body)
        assert.deepEqual(res.json(), betaBefore[i], `beta unchanged: ${statsUrl(q)}`)
      }
      const status = (await get('/events/queue/status', keys.beta.read)).json()
      assert.deepEqual(
        { rows_behind: status.sync.rows_behind, synced_rows: status.sync.synced_rows },
        { rows_behind: 0, synced_rows: 35 },
      )
    })

    test("a deleted project's key answers 401 with the WWW-Authenticate challenge, as any unknown key", {}, async () => {
      const delta = await t.deps.projects.create('delta')
      const write = (await t.deps.apiKeys.create('write', 'delta', delta.id)).key
      // Used just before: the authenticator remembers the key for a few seconds.
      assert.equal((await post(makeEvents(1), write)).statusCode, mode.status)
      await waitStored(t, { [delta.id]: 1 })
      await t.deps.projects.delete('delta')
      await t.deps.analytics!.reconcile()
      const res = await post(makeEvents(1), write)
      assert.equal(res.statusCode, 401)
      assert.equal(res.headers['www-authenticate'], 'Bearer realm="event-analytics"')
    })

    test('a project made again under the name is a new, empty project', async () => {
      const again = await t.deps.projects.create('alpha')
      assert.notEqual(again.id, alpha.id)
      const read = (await t.deps.apiKeys.create('read', 'alpha again', again.id)).key
      const write = (await t.deps.apiKeys.create('write', 'alpha again', again.id)).key
      for (const q of STATS_QUERIES) {
        const res = await get(statsUrl(q), read)
        assert.equal(res.statusCode, 200, res.body)
        assert.deepEqual(res.json(), referenceAnswer([], q), `empty: ${statsUrl(q)}`)
      }
      // The old rows are gone: the same events are new here.
      const res = await post(alphaEvents(), write)
      assert.equal(res.statusCode, mode.status)
      assert.deepEqual(
        { inserted: res.json().inserted, duplicates: res.json().duplicates },
        { inserted: 45, duplicates: 0 },
      )
      await waitStored(t, { [again.id]: 45, [beta.id]: 35 })
      await t.deps.analytics!.catchUp()
      for (const [i, q] of STATS_QUERIES.entries()) {
        assert.deepEqual((await get(statsUrl(q), read)).json(), referenceAnswer(alphaEvents(), q))
        assert.deepEqual((await get(statsUrl(q), keys.beta.read)).json(), betaBefore[i])
      }
      assert.equal((await get(statsUrl(STATS_QUERIES[0]!), keys.alpha.read)).statusCode, 401)
    })

    test('events still queued when their project is deleted are swept out once stored', {
      skip: mode.queue ? false : 'no queue: embedded writes before answering',
    }, async () => {
      const gamma = await t.deps.projects.create('gamma')
      const write = (await t.deps.apiKeys.create('write', 'gamma', gamma.id)).key
      await worker.stop()
      assert.equal((await post(makeEvents(5), write)).statusCode, 202)
      await t.deps.projects.delete('gamma')
      await t.deps.analytics!.reconcile()
      worker.start()
      await waitFor(
        'the queue drained',
        async () => (await get('/events/queue/status?project=beta', service)).json().shared,
        (s) => s.length === 0 && s.pending === 0,
      )
      // Stored by the worker after the delete, then removed by the sweep of deleted projects.
      await waitFor(
        'no rows of a deleted project',
        async () =>
          (
            await t.deps.db.query<{ n: number }>(
              'SELECT count(*)::int AS n FROM events WHERE project_id = $1',
              [gamma.id],
            )
          ).rows[0]!.n,
        (n) => n === 0,
      )
      assert.equal(
        await t.deps.analytics!.replicaOf(gamma.id).then(
          () => 'opened',
          () => 'gone',
        ),
        'gone',
      )
    })
  })
}
