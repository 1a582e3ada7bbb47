import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { skipUnless } from '../helpers/services.ts'
import { BENCH_TIMEOUT_MS, bench, REALISTIC_QUERIES, readResults } from './run-bench.ts'

const Q = REALISTIC_QUERIES.length

// --projects: three projects of different sizes side by side, each measured
// and checked on its own (the Projects issue). A tiny run, to prove the
// plumbing: sizes as seeded, every answer per project equal to plain SQL on
// that project's events only, and a section per project in the report.
describe('npm run bench -- --seed-sql --projects 3', {
  skip: await skipUnless('postgres', 'redis'),
  concurrency: true,
}, () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  test('three projects seeded side by side: each one its exact size in the store and its replica, every answer equal to plain SQL on its own events, a section each in the report', {
    timeout: BENCH_TIMEOUT_MS,
  }, async () => {
    const run = await bench([
      '--seed-sql',
      '--projects',
      '3',
      '--events',
      '3000',
      '--users',
      '200',
      '--markers',
      '5',
      '--pg-runs',
      '1',
    ])
    dirs.push(run.outDir)
    assert.equal(run.code, 0, run.output)
    const { report, markdown } = readResults(run.outDir)
    assert.equal(report.settings.projects, 3)
    assert.equal(report.queries, undefined)
    const projects = report.projects!
    assert.deepEqual(
      projects.map((p) => [p.id, p.name, p.seeded, p.users]),
      [
        [1, 'default', 3000, 200],
        [2, 'second', 1000, 67],
        [3, 'third', 300, 20],
      ],
    )
    // The freshness markers go to the default project, and only there.
    const expected = [3005, 1000, 300]
    for (const [i, p] of projects.entries()) {
      const c = p.correctness
      assert.equal(c.ok, true, `${p.name}: ${JSON.stringify(c)}`)
      assert.equal(c.store.expected, expected[i], p.name)
      assert.equal(c.store.events, expected[i], p.name)
      assert.equal(c.replica.rows, expected[i], p.name)
      assert.equal(c.replica.syncedRows, expected[i], p.name)
      // Measured on the plain DuckDB table of the project's events, without the markers.
      assert.equal(p.dataset.shape.events, p.seeded, p.name)
      assert.deepEqual(
        p.queries.map((q) => q.name),
        REALISTIC_QUERIES,
        p.name,
      )
      for (const q of p.queries) {
        assert.ok(q.path.endsWith(`&project=${p.name}`), q.path)
        assert.equal(q.samePlainDuckdbAnswer, true, `${p.name}: ${q.name}`)
        assert.equal(q.sameAnswer, true, `${p.name}: ${q.name}`)
        assert.equal(q.http.n, 50, `${p.name}: ${q.name}`)
        assert.equal(q.plainDuckdb.n, 50, `${p.name}: ${q.name}`)
        assert.equal(q.duckdb.n, 50, `${p.name}: ${q.name}`)
      }
      assert.equal(p.ratios.length, REALISTIC_QUERIES.length)
      for (const x of p.ratios) assert.ok(x.plainDuckdb.p50 > 0, `${p.name}: ${x.name}`)
    }
    // Different people: the replicas' users tables are as many as each project's own.
    assert.deepEqual(
      projects.map((p) => p.correctness.replica.tables.users),
      projects.map((p) => p.dataset.shape.users + (p.id === 1 ? 1 : 0)),
    )
    assert.equal(report.correctness.ok, true)
    assert.equal(report.correctness.store.events, 4305)
    assert.equal(report.correctness.replica.rows, 4305)
    assert.equal(report.seed?.events, 4300)

    assert.match(
      markdown,
      /^### 4,300 realistic events in 3 projects \(default 3,000, second 1,000, third 300\)/m,
    )
    for (const [name, id, n] of [
      ['default', 1, '3,000'],
      ['second', 2, '1,000'],
      ['third', 3, '300'],
    ] as const) {
      assert.match(markdown, new RegExp(`^#### Project ${name} \\(id ${id}\\): ${n} events`, 'm'))
      assert.match(
        markdown,
        new RegExp(
          `^\\| ${name} \\(id ${id}\\) \\| ${n}( \\(\\+5 markers\\))? \\| [\\d,]+ \\| [\\d,]+ / [\\d,]+ \\| \\d+ / \\d+ / \\d+ of ${Q} \\| ${Q} / ${Q} of ${Q} \\| PASS \\|$`,
          'm',
        ),
      )
      assert.match(markdown, new RegExp(`^Correctness of ${name}: .*\\*\\*PASS\\*\\*`, 'm'))
    }
    assert.equal(markdown.match(/^\| breakdown by path( \(runs: [^)]+\))? \|/gm)?.length, 3)
    assert.match(markdown, /^Correctness, project by project: .*\*\*PASS\*\*/m)
  })

  test('an event lost from one project fails the run, naming the project whose store and answers then differ', {
    timeout: BENCH_TIMEOUT_MS,
  }, async () => {
    const run = await bench([
      '--seed-sql',
      '--projects',
      '2',
      '--events',
      '600',
      '--users',
      '60',
      '--markers',
      '2',
      '--pg-runs',
      '1',
      '--inject-missing-event',
    ])
    dirs.push(run.outDir)
    assert.equal(run.code, 1, run.output)
    assert.match(
      run.output,
      /bench: FAILED: correctness check: project (default|second): PostgreSQL is missing 1 event\(s\) of the (602|200) expected/,
    )
    assert.match(
      run.output,
      /project (default|second): the DuckDB replica holds (602|200) events, PostgreSQL (601|199)/,
    )
    assert.match(run.output, /^\| (default|second) \(id [12]\) \| .* \| \*\*FAIL\*\* \|$/m)
  })

  test('--projects needs --seed-sql', async () => {
    const run = await bench(['--projects', '3'])
    dirs.push(run.outDir)
    assert.equal(run.code, 1, run.output)
    assert.match(run.output, /bench: FAILED: --projects seeds its projects into a fresh database/)
  })
})
