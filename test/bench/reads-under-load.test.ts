import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { after, describe, test } from 'node:test'
import { skipUnless } from '../helpers/services.ts'
import { BENCH_TIMEOUT_MS, bench, REALISTIC_QUERIES, readResults } from './run-bench.ts'

const LOAD_EVENTS = 20_000
const LOAD_RUNS = 2

describe('npm run bench -- --reads-under-load', {
  skip: await skipUnless('postgres', 'redis'),
}, () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  // Tiny: 2,000 seeded events. The queries under load wait behind the API's
  // parsing of 1,000-event batches, so even here each takes up to a second on
  // a busy machine: 20,000 events, and (a lowered minimum) 2 runs a query.
  test('every query idle and under load, the ingestion meanwhile and the replica lag, then the exactly-once check passes', {
    timeout: BENCH_TIMEOUT_MS,
  }, async () => {
    const run = await bench([
      '--reads-under-load',
      '--events',
      '2000',
      '--users',
      '200',
      '--load-events',
      String(LOAD_EVENTS),
      '--load-runs',
      String(LOAD_RUNS),
    ])
    dirs.push(run.outDir)
    assert.equal(run.code, 0, run.output)
    const { report, markdown } = readResults(run.outDir)

    const load = report.readsUnderLoad!
    assert.equal(load.storedBefore, 2000)
    assert.equal(load.loadEvents, LOAD_EVENTS)
    assert.ok(load.postedEvents >= LOAD_EVENTS, `posted ${load.postedEvents}`)
    assert.equal(load.ingest.events, load.postedEvents)
    for (const figure of [
      'acceptedEventsPerSecond',
      'storedWhileAcceptingEventsPerSecond',
      'storedEventsPerSecond',
      'queryableEventsPerSecond',
    ] as const)
      assert.ok(load.ingest[figure] > 0, figure)
    assert.ok(
      load.lagMs.store >= 0 && load.lagMs.replica >= load.lagMs.store,
      JSON.stringify(load.lagMs),
    )
    assert.deepEqual(
      load.queries.map((q) => q.name),
      REALISTIC_QUERIES,
    )
    for (const q of load.queries) {
      assert.equal(q.idle.n, 50, q.name)
      assert.ok(q.load.n >= 1, `${q.name}: ${q.load.n} runs under load`)
      for (const p of [q.idle, q.load])
        assert.ok(p.p50 > 0 && p.p95 >= p.p50 && p.p99 >= p.p95, q.name)
      assert.ok(q.loadIdleP95 > 0, q.name)
    }
    assert.equal(report.seed?.events, 2000)
    assert.equal(report.correctness.ok, true)
    assert.equal(report.correctness.store.events, 2000 + load.postedEvents)
    assert.equal(report.correctness.replica.rows, 2000 + load.postedEvents)

    assert.match(
      markdown,
      /^### Reads under load: 2,000 realistic events seeded, [\d,]+ more posted/m,
    )
    assert.match(
      markdown,
      /\| query \| idle p50 \/ p95 \/ p99 \| under load p50 \/ p95 \/ p99 \| load \/ idle p95 \|/,
    )
    const number = String.raw`[\d.]+( s| ms)?`
    const triple = `${number} / ${number} / ${number}`
    for (const name of REALISTIC_QUERIES) {
      const row = new RegExp(
        String.raw`^\| ${name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \| ${triple}( \(\d+ runs?\))? \| ${triple} \(\d+ runs?(, fewer than asked)?\)( ⚠)? \| [\d.]+ \|$`,
        'm',
      )
      assert.match(markdown, row, name)
    }
    assert.match(
      markdown,
      /\| last POST answered → \/stats counts every event \(replica lag\) \| [\d.]+ s \|/,
    )
    assert.match(markdown, /busy before the run/)
    assert.match(markdown, /Correctness: .*\*\*PASS\*\*/)
  })
})
