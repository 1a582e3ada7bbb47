import assert from 'node:assert/strict'
import { readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { skipUnless } from '../helpers/services.ts'
import { BENCH_TIMEOUT_MS, bench } from './run-bench.ts'

describe('npm run bench -- --merges', { skip: await skipUnless('postgres', 'redis') }, () => {
  const dirs: string[] = []
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true })
  })

  test('renames and moves applied to the replica, DAU afterwards equal to plain SQL with the links joined', {
    timeout: BENCH_TIMEOUT_MS,
  }, async () => {
    const run = await bench(['--seed-sql', '--events', '3000', '--users', '300', '--merges', '40'])
    dirs.push(run.outDir)
    assert.equal(run.code, 0, run.output)
    const json = readdirSync(run.outDir).find((f) => /^bench-merges-.*\.json$/.test(f))
    assert.ok(json, readdirSync(run.outDir).join(', '))
    const report = JSON.parse(readFileSync(join(run.outDir, json), 'utf8'))
    assert.equal(report.correct, true, report.problems.join('; '))
    for (const phase of [report.renames, report.moves]) {
      assert.equal(phase.calls, 40)
      assert.ok(phase.ms > 0 && phase.perSecond > 0)
    }
    assert.ok(report.dau.service.n >= 1 && report.dau.plain.n >= 1)
    const markdown = readFileSync(join(run.outDir, json.replace(/\.json$/, '.md')), 'utf8')
    assert.match(
      markdown,
      /\| moves \(two users with events become one\) \| 40 \| \d+ ms \| \d+ \|/,
    )
    assert.match(markdown, /Answers: every day equal to plain SQL\./)
  })

  test('--merges needs --seed-sql', async () => {
    const run = await bench(['--merges', '5'])
    assert.notEqual(run.code, 0)
    assert.match(
      run.output,
      /--merges links users of events seeded in PostgreSQL: it needs --seed-sql/,
    )
  })
})
