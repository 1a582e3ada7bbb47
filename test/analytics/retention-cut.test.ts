import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { DuckDbReplica } from '../../src/analytics/duckdb-replica.ts'
import { appliedCut, applyCut, cutStep, RetentionCuts } from '../../src/analytics/retention-cut.ts'
import { loadConfig } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'

// The cut each project's replica applies, and its removal as one
// transaction: a statement failing half-way leaves every row and the old cut.

const log = createLogger('silent')
const replicaOptions = loadConfig({ DUCKDB_THREADS: '1' }).analytics
const day = (date: string) => Date.parse(`${date}T00:00:00Z`) / 86_400_000

describe('RetentionCuts', () => {
  const projects = new Map([
    [1, { retention_days: null }],
    [2, { retention_days: 10 }],
  ])
  const store = { byId: async (id: number) => projects.get(id) as never }
  const now = () => Date.parse('2026-03-01T23:59:59.999Z')

  test("a project's own days, else the service's, else nothing is cut", async () => {
    const cuts = new RetentionCuts(store, 30, now)
    assert.equal((await cuts.of(2)).cut, day('2026-02-19'))
    assert.equal((await cuts.of(1)).cut, day('2026-01-30'))
    // a project deleted meanwhile: the service's
    assert.equal((await cuts.of(3)).cut, day('2026-01-30'))
    const keepAll = new RetentionCuts(store, null, now)
    assert.deepEqual(await keepAll.of(1), { days: null, cut: null })
    assert.equal((await keepAll.of(2)).cut, day('2026-02-19'))
  })

  test('the cut moves at UTC midnight, not before', async () => {
    let t = Date.parse('2026-03-01T23:59:59.999Z')
    const cuts = new RetentionCuts(store, null, () => t)
    assert.equal((await cuts.of(2)).cut, day('2026-02-19'))
    t += 1
    assert.equal((await cuts.of(2)).cut, day('2026-02-20'))
  })
})

describe('cutStep', () => {
  const applied = { days: 30, cut: 100 }

  test('a first cut, and one moved on by the clock, are applied', () => {
    assert.equal(cutStep(null, { days: 30, cut: 100 }), 'cut')
    assert.equal(cutStep(applied, { days: 30, cut: 101 }), 'cut')
    assert.equal(cutStep(applied, { days: 20, cut: 110 }), 'cut')
  })

  test('the same cut, or the clock stepping back under the same retention, changes nothing', () => {
    assert.equal(cutStep(null, { days: null, cut: null }), 'none')
    assert.equal(cutStep(applied, { days: 30, cut: 100 }), 'none')
    assert.equal(cutStep(applied, { days: 30, cut: 99 }), 'none')
  })

  test('retention lengthened or unset rebuilds; another retention on the same day is recorded', () => {
    assert.equal(cutStep(applied, { days: 40, cut: 90 }), 'rebuild')
    assert.equal(cutStep(applied, { days: null, cut: null }), 'rebuild')
    assert.equal(cutStep(applied, { days: 31, cut: 100 }), 'cut')
  })
})

describe('applyCut', () => {
  let replica: DuckDbReplica
  const count = async (sql: string) => Number((await replica.query<{ n: bigint }>(sql))[0]!.n)

  before(async () => {
    replica = await DuckDbReplica.open(':memory:', replicaOptions, log)
    const w = replica.writer
    await w.run(
      `INSERT INTO users VALUES (1, 'a', '2026-01-01'), (2, 'b', '2026-01-01'), (3, 'c', '2026-01-05')`,
    )
    await w.run(`INSERT INTO events VALUES
      (1, '2026-01-01', 1, 'open', '2026-01-01 10:00', NULL),
      (2, '2026-01-06', 1, 'open', '2026-01-06 10:00', NULL),
      (3, '2026-01-01', 2, 'buy', '2026-01-01 11:00', NULL),
      (4, '2026-01-05', 3, 'open', '2026-01-05 12:00', NULL)`)
    await w.run(
      `INSERT INTO day_users_pending VALUES ('2026-01-01', 1), ('2026-01-06', 1), ('2026-01-01', 2), ('2026-01-05', 3)`,
    )
    await w.run(
      `INSERT INTO day_type_users_pending VALUES ('2026-01-01', 'open', 1), ('2026-01-06', 'open', 1), ('2026-01-01', 'buy', 2), ('2026-01-05', 'open', 3)`,
    )
    await w.run(
      `INSERT INTO type_day_counts VALUES ('2026-01-01', 'open', 1), ('2026-01-06', 'open', 1), ('2026-01-01', 'buy', 1), ('2026-01-05', 'open', 1)`,
    )
  })
  after(() => replica?.close())

  test('removes the days before the cut, moves first days, drops users left without events', async () => {
    assert.equal(await appliedCut(replica.writer), null)
    assert.equal(await applyCut(replica.writer, { days: 3, cut: day('2026-01-03') }), 2)
    assert.deepEqual(await appliedCut(replica.writer), { days: 3, cut: day('2026-01-03') })
    assert.deepEqual(
      await replica.query(
        'SELECT user_key, user_id, first_day::VARCHAR AS first_day FROM users ORDER BY user_key',
      ),
      [
        { user_key: 1, user_id: 'a', first_day: '2026-01-06' },
        { user_key: 3, user_id: 'c', first_day: '2026-01-05' },
      ],
    )
    assert.equal(await count('SELECT count(*) AS n FROM events'), 2)
    for (const table of ['day_users_pending', 'day_type_users_pending', 'type_day_counts'])
      assert.equal(await count(`SELECT count(*) AS n FROM ${table}`), 2, table)
  })

  test('a statement failing half-way leaves every row and the cut it had', async () => {
    // A table the removal reaches after events: the transaction has deleted rows by then.
    await replica.writer.run('DROP VIEW day_type_users')
    await replica.writer.run('DROP TABLE day_type_users_pending')
    await assert.rejects(applyCut(replica.writer, { days: 3, cut: day('2026-01-06') }))
    assert.deepEqual(await appliedCut(replica.writer), { days: 3, cut: day('2026-01-03') })
    assert.equal(await count('SELECT count(*) AS n FROM events'), 2)
    assert.equal(await count('SELECT count(*) AS n FROM users'), 2)
    assert.equal(await count('SELECT count(*) AS n FROM day_users_pending'), 2)
  })
})
