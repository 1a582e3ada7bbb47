import assert from 'node:assert/strict'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { skipUnless } from '../helpers/services.ts'
import { BENCH_TIMEOUT_MS, bench, REALISTIC_QUERIES } from './run-bench.ts'

// A few thousand events: enough for every section to have data, small enough to run in seconds.
const TINY = ['--events', '3000', '--users', '200', '--markers', '5', '--pg-runs', '1']
describe('npm run bench', {
  skip: await skipUnless('postgres', 'redis'),
  concurrency: true,
}, () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  // Slow for its size: the breakdown by path takes about half a second even here (issue 14), 110 times over.
  test('a tiny run of the realistic default goes end to end: exit 0, JSON and Markdown written with every section, every answer equal to plain SQL', {
    timeout: BENCH_TIMEOUT_MS,
  }, async () => {
    const run = await bench(TINY)
    dirs.push(run.outDir)
    assert.equal(run.code, 0, run.output)
    const files = readdirSync(run.outDir)
    const json = files.find((f) => f.endsWith('.json'))
    assert.ok(
      json && files.includes(json.replace(/\.json$/, '.md')),
      `results: ${files.join(', ')}`,
    )
    const report = JSON.parse(readFileSync(join(run.outDir, json), 'utf8'))

    assert.equal(report.settings.events, 3000)
    assert.equal(report.ingest.events, 3000)
    for (const figure of [
      'acceptedEventsPerSecond',
      'storedEventsPerSecond',
      'queryableEventsPerSecond',
    ])
      assert.ok(report.ingest[figure] > 0, figure)
    assert.ok(
      report.ingest.latencyMs.p50 > 0 && report.ingest.latencyMs.p99 >= report.ingest.latencyMs.p50,
    )
    assert.ok(report.ingest.raw.copy.rowsPerSecond > 0)
    assert.equal(report.freshness.markers, 5)
    assert.ok(report.freshness.ms.p50 > 0 && report.freshness.raw.p50 > 0)
    assert.equal(report.dataset.kind, 'realistic')
    const shape = report.dataset.shape
    assert.equal(shape.events, 3000)
    assert.ok(
      // page views carry the browser script's properties too (bench/lib/web-vocabulary.ts): up to 15
      shape.propertiesPerEvent.min >= 6 && shape.propertiesPerEvent.max <= 15,
      JSON.stringify(shape.propertiesPerEvent),
    )
    assert.equal(shape.eventTypes > 20, true)
    // Session ids are exactly the visits that 30-minute gaps make.
    assert.equal(shape.distinct.session, shape.visitsByGap)
    assert.equal(shape.visitSessionPairs, shape.visitsByGap)
    assert.ok(shape.distinct.path > 1000, `distinct paths: ${shape.distinct.path}`)
    assert.deepEqual(
      report.queries.map((q: { name: string }) => q.name),
      REALISTIC_QUERIES,
    )
    for (const q of report.queries) {
      assert.equal(q.http.n, 50, q.name)
      assert.equal(q.duckdb.n, 50, q.name)
      assert.equal(q.plainDuckdb.n, 50, q.name)
      assert.equal(q.postgres.n, 1, q.name)
      assert.equal(q.samePlainDuckdbAnswer, true, q.name)
      assert.equal(q.sameAnswer, true, q.name)
    }
    assert.equal(report.ratios.queries.length, REALISTIC_QUERIES.length)
    for (const x of report.ratios.queries) assert.ok(x.plainDuckdb.p50 > 0, x.name)
    assert.ok(report.ratios.ingest.stored > 0 && report.ratios.freshness.p50 > 0)
    assert.deepEqual(
      report.processes.map((p: { role: string }) => p.role),
      ['api', 'worker-1'],
    )
    for (const p of report.processes) assert.ok(p.peakRssMb > 0, p.role)
    assert.equal(report.correctness.ok, true)
    assert.equal(report.correctness.store.events, 3005)
    assert.equal(report.correctness.replica.rows, 3005)

    const markdown = readFileSync(join(run.outDir, json.replace(/\.json$/, '.md')), 'utf8')
    assert.match(markdown, /\| stored events\/s, end to end \|/)
    assert.match(markdown, /^### 3,000 realistic events/m)
    assert.match(markdown, /\| \*\*ours \/ plain DuckDB\*\* p50 \/ p95 \/ p99 \|/)
    assert.match(
      markdown,
      /\| breakdown by path( \(runs: [^)]+\))? \| [^|]+ \| [^|]+ \| \*\*[\d.]+ \/ [\d.]+ \/ [\d.]+\*\*( ⚠)? \|/,
    )
    assert.match(markdown, /one session per visit/)
    assert.match(markdown, /Correctness: .*\*\*PASS\*\*/)
  })

  test('--import: COPY, the import alone and the import beside the service, all of the same file, with the ratio and the replica catching up', {
    timeout: BENCH_TIMEOUT_MS,
  }, async () => {
    const run = await bench(['--import', '--events', '2000', '--users', '100', '--rounds', '2'])
    dirs.push(run.outDir)
    assert.equal(run.code, 0, run.output)
    const files = readdirSync(run.outDir)
    const json = files.find((f) => /^bench-import-.*\.json$/.test(f))
    assert.ok(
      json && files.includes(json.replace(/\.json$/, '.md')),
      `results: ${files.join(', ')}`,
    )
    const report = JSON.parse(readFileSync(join(run.outDir, json), 'utf8'))
    assert.equal(report.file.rows, 2000)
    for (const load of [report.copy, report.import, report.withService]) {
      assert.equal(load.rows, 2000)
      assert.ok(load.rowsPerSecond > 0 && load.ms > 0)
    }
    for (const load of [report.import, report.withService]) {
      assert.deepEqual(
        [load.summary.read, load.summary.inserted, load.summary.duplicates, load.summary.rejected],
        [2000, 2000, 0, 0],
      )
    }
    assert.equal(report.rounds.length, 2)
    for (const kind of ['copy', 'import', 'withService']) {
      assert.ok(
        report.rounds.some(
          (r: Record<string, { rowsPerSecond: number }>) =>
            r[kind]!.rowsPerSecond === report[kind].rowsPerSecond,
        ),
        `${kind} is one of the rounds`,
      )
    }
    assert.equal(
      report.ratio,
      Number((report.import.rowsPerSecond / report.copy.rowsPerSecond).toPrecision(3)),
    )
    assert.ok(report.withService.replicaCatchUpMs >= 0)
    const markdown = readFileSync(join(run.outDir, json.replace(/\.json$/, '.md')), 'utf8')
    assert.match(markdown, /\| plain COPY \(FORMAT csv\), 1 connection \| [\d,]+ \|/)
    assert.match(markdown, /\| import ÷ COPY \| \*\*[\d.]+×\*\* \|/)
    assert.match(markdown, /\| replica caught up, after that import ended \| \| [\d.]+ s \|/)
  })

  // On the friendly data set with v7 ids, so both run in the suite.
  test('the correctness check fails the run, naming the problem and the answers that differ, when a stored event goes missing', {
    timeout: BENCH_TIMEOUT_MS,
  }, async () => {
    const run = await bench([
      ...TINY,
      '--dataset',
      'friendly',
      '--ids',
      'v7',
      '--inject-missing-event',
    ])
    dirs.push(run.outDir)
    assert.equal(run.code, 1, run.output)
    assert.match(
      run.output,
      /bench: FAILED: correctness check: PostgreSQL is missing 1 of the 3,005 accepted events/,
    )
    assert.match(run.output, /the DuckDB replica holds 3,005 events, PostgreSQL 3,004/)
    // PostgreSQL lost an event after /stats answered: its plain answers differ, loudly.
    assert.match(
      run.output,
      /MISMATCH: \/stats answers .+ differently from plain SQL on postgresql/,
    )
    assert.match(run.output, /^### 3,000 friendly events/m)
    assert.match(run.output, /[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}/)
  })
})
