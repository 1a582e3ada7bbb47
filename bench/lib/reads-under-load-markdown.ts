import { int, ms, sec, triple } from './format.ts'
import { LOAD_EVENTS_CAP } from './reads-under-load.ts'
import type { BenchReport } from './report.ts'

// The --reads-under-load sections of the Markdown report (markdown.ts writes the rest).

/** Issue 14, item 4: stats p95 while ingestion runs at full speed, at 1M events. */
const TARGET_P95_MS = 100

const runs = (n: number) => `${n} run${n === 1 ? '' : 's'}`

export function readsUnderLoadTitle(r: BenchReport, mode: string): string {
  const x = r.readsUnderLoad!
  return `### Reads under load: ${int(x.storedBefore)} realistic events seeded, ${int(x.postedEvents)} more posted while every query is timed, ${mode}`
}

/** `data` describes the data set, as the other modes' method lines do. */
export function readsUnderLoadMethod(r: BenchReport, data: string): string {
  const s = r.settings
  const x = r.readsUnderLoad!
  return (
    `PostgreSQL seeded inside SQL by bench/lib/seed-realistic.ts (${data}); the service builds its DuckDB replica from an empty file and is left to go idle (no process using CPU). ` +
    `Idle: each /stats query ${s.runs} timed runs after 5 warm-ups, one at a time, over HTTP. ` +
    `Under load: ${int(x.loadEvents)} more realistic events (bench/lib/realistic.ts: the seed's users and days, ${r.settings.ids} ids) posted in ${int(s.batch)}-event batches by ${s.concurrency} concurrent HTTP clients at full speed, ` +
    `more (generated a batch at a time, up to ${LOAD_EVENTS_CAP}× as many) while any query had fewer than ${x.minRuns} runs; meanwhile one client asks the same queries in turn, one at a time, ` +
    'and every run started before the last POST was answered counts. Answers under load move with every batch, so they are not compared with plain SQL; ' +
    'after the load the store and the replica are checked against the seeded and the posted events.'
  )
}

export function readsUnderLoadTables(r: BenchReport): string[] {
  const x = r.readsUnderLoad!
  const i = x.ingest
  const more =
    x.postedEvents > x.loadEvents
      ? `, of which ${int(x.postedEvents - x.loadEvents)} past --load-events for the runs`
      : ''
  const met = x.queries.filter((q) => q.load.p95 <= TARGET_P95_MS).length
  return [
    '| ingestion during the load | value |',
    '| --- | ---: |',
    `| events posted | ${int(x.postedEvents)} in ${sec(i.acceptDurationMs)}${more} |`,
    `| accepted events/s | ${int(i.acceptedEventsPerSecond)} |`,
    `| stored events/s while posting | ${int(i.storedWhileAcceptingEventsPerSecond)} |`,
    `| stored events/s, first request → all stored | ${int(i.storedEventsPerSecond)} |`,
    `| request latency p50 / p99 | ${ms(i.latencyMs.p50)} / ${ms(i.latencyMs.p99)} |`,
    `| last POST answered → the store holds every event | ${sec(x.lagMs.store)} |`,
    `| last POST answered → /stats counts every event (replica lag) | ${sec(x.lagMs.replica)} |`,
    '',
    '| query | idle p50 / p95 / p99 | under load p50 / p95 / p99 | load / idle p95 |',
    '| --- | ---: | ---: | ---: |',
    ...x.queries.map((q) => {
      // Over its time budget an idle query has fewer samples; under load, a capped posting may leave some short.
      const idleRuns = q.idle.n < r.settings.runs ? ` (${runs(q.idle.n)})` : ''
      const short = q.load.n < x.minRuns ? ', fewer than asked' : ''
      if (q.load.n === 0)
        return `| ${q.name} | ${triple(q.idle)}${idleRuns} | no run${short} ⚠ | — |`
      const over = q.load.p95 > TARGET_P95_MS ? ' ⚠' : ''
      return `| ${q.name} | ${triple(q.idle)}${idleRuns} | ${triple(q.load)} (${runs(q.load.n)}${short})${over} | ${q.loadIdleP95.toFixed(2)} |`
    }),
    '',
    `p95 under load ≤ ${TARGET_P95_MS} ms (issue 14): ${met} of ${x.queries.length} queries; ⚠ marks the others.`,
  ]
}
