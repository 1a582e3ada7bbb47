import { int, ms, pct, ratio, sec, triple } from './format.ts'
import type { DatasetShape } from './plain-duckdb.ts'
import {
  projectCorrectness,
  projectsCorrectness,
  projectsMethod,
  projectsSummary,
} from './projects-markdown.ts'
import type { QueryTiming } from './queries.ts'
import {
  readsUnderLoadMethod,
  readsUnderLoadTables,
  readsUnderLoadTitle,
} from './reads-under-load-markdown.ts'
import type { BenchReport, QueryRatio } from './report.ts'

// The report as Markdown: printed at the end of a run, saved next to the JSON,
// and meant to be pasted into docs/performance.md as it is.

export function renderMarkdown(r: BenchReport): string {
  const s = r.settings
  const m = r.machine
  const mode =
    s.mode === 'queue'
      ? s.workers === 0
        ? 'queue mode, every role in one process (npm start)'
        : `queue mode, ${s.workers} worker process${s.workers === 1 ? '' : 'es'}`
      : `${s.mode} mode`
  const lines = [
    r.readsUnderLoad
      ? readsUnderLoadTitle(r, mode)
      : r.soak
        ? `### Soak: ${s.soakSeconds} s, ${mode}, a worker SIGKILLed every ${r.soak.killEverySeconds} s`
        : r.projects
          ? `### ${int(r.seed!.events)} ${s.dataset} events in ${r.projects.length} projects (${r.projects.map((p) => `${p.name} ${int(p.seeded)}`).join(', ')}), ${mode}`
          : `### ${int(r.seed?.events ?? r.ingest?.events ?? s.events)} ${s.dataset} events, ${mode}`,
    '',
    `Machine: ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.kernel}; Node ${m.node}, ${m.store}${m.redis ? `, ${m.redis}` : ''}, ${m.duckdb}; ` +
      `service, databases and load generator on the same machine, ${m.busyBeforeRunPercent}% busy before the run. ${r.startedAt.slice(0, 10)}, src ${r.serviceSource}.`,
    '',
    `Method: ${method(r)}`,
    '',
  ]
  if (r.ingest) lines.push(...ingestTable(r), '')
  else if (r.seed && r.projects) {
    lines.push(
      `Data: ${int(r.seed.events)} events seeded inside PostgreSQL in ${r.projects.length} projects in ${sec(r.seed.seededMs ?? 0)}; ` +
        `the service built the ${r.projects.length} projects' replicas from them in ${sec(r.seed.replicaBuildMs)} (${int(r.seed.replicaRowsPerSecond)} rows/s, start-up included).`,
      '',
    )
    if (r.freshness) lines.push(...freshnessTable(r), '')
  } else if (r.seed) {
    lines.push(
      `Data: ${int(r.seed.events)} events seeded inside PostgreSQL${r.seed.seededMs === undefined ? ' (reused database)' : ` in ${sec(r.seed.seededMs)}`}; ` +
        `the service built its replica from them in ${sec(r.seed.replicaBuildMs)} (${int(r.seed.replicaRowsPerSecond)} rows/s, start-up included).`,
      '',
    )
    if (r.freshness) lines.push(...freshnessTable(r), '')
  }
  if (r.dataset) lines.push(shapeLine(r.dataset.shape), '')
  if (r.queries) lines.push(...queryTable(r, r.queries, r.ratios.queries!), '')
  if (r.projects) lines.push(...projectSections(r))
  if (r.soak) lines.push(...soakTable(r), '')
  if (r.readsUnderLoad) lines.push(...readsUnderLoadTables(r), '')
  lines.push(...processTable(r), '', r.projects ? projectsCorrectness(r) : correctness(r), '')
  return lines.join('\n')
}

const ids = (r: BenchReport) =>
  r.settings.ids === 'v7' ? 'time-ordered UUIDv7 ids' : 'random UUIDv4 ids'

function method(r: BenchReport): string {
  const s = r.settings
  const data =
    s.soakSeconds || s.dataset === 'friendly'
      ? `the friendly data set: ${int(s.users)} users (Zipf-skewed), 9 weighted event types, 2 to 4 properties of few values each, ${s.days} days ending ${r.lastDay}`
      : `the realistic data set: ${int(s.users)} users (Zipf-skewed), 40 event types (Zipf), each user's events as visits with a session id, ` +
        `6 to 8 properties per event, ${s.days} days ending ${r.lastDay}, ${ids(r)}`
  if (r.readsUnderLoad) return readsUnderLoadMethod(r, data)
  if (s.soakSeconds) {
    return (
      `${s.concurrency} clients post ${int(s.batch)}-event batches at full speed and one client cycles through the /stats queries for ${s.soakSeconds} s ` +
      `(${data}); a worker is SIGKILLed and restarted every ${r.soak?.killEverySeconds} s. Then the store and the replica are compared with the accepted events.`
    )
  }
  const seeded =
    s.dataset === 'friendly'
      ? `bench/lib/seed.ts (the friendly data set: ${int(s.users)} users skewed as ⌊users·r²⌋, 8 weighted event types, 2 properties, ${s.days} days ending ${r.lastDay}, ${ids(r)})`
      : `bench/lib/seed-realistic.ts (${data})`
  const load = s.seedSql
    ? `PostgreSQL seeded inside SQL by ${seeded}; the service then builds its DuckDB replica from an empty file`
    : `${int(s.events)} events (${data}) posted in ${int(s.batch)}-event batches by ${s.concurrency} concurrent HTTP clients; ` +
      'stored = the store holds every event, queryable = /stats counts every event'
  return (
    `${load}. Freshness: ${r.freshness?.markers ?? 0} single-event batches posted one at a time, 0–250 ms apart at random, each polled in /stats (every 5 ms) until counted. ` +
    `Queries: ${s.runs} timed runs each after 5 warm-ups, one at a time, over HTTP, as the same query functions on the replica file opened directly, ` +
    "and as plain SQL (`properties->>'path'`) on a plain DuckDB table events(event_id, occurred_at, user_id, event_type, properties JSON) " +
    "loaded in the same run from a CSV file of the same events, with the replica's memory limit and threads; " +
    `plain SQL on ${s.mode === 'embedded' ? 'PGlite' : 'PostgreSQL'}: ${s.pgRuns} runs after 1 warm-up. ` +
    "Both plain answers are checked against the endpoint's. Raw engines run after the service has stopped." +
    (r.projects ? ` ${projectsMethod(r)}` : '')
  )
}

function ingestTable(r: BenchReport): string[] {
  const i = r.ingest!
  const x = r.ratios.ingest!
  const engine = r.settings.mode === 'embedded' ? 'PGlite' : 'PostgreSQL'
  const copy = `COPY into ${engine}, 1 connection`
  const unnest = `\`INSERT … unnest\` of ${int(r.settings.batch)} rows, ${i.raw.unnest.connections} connection${i.raw.unnest.connections === 1 ? '' : 's'}`
  return [
    '| ingestion | ours | raw engine | raw | ours / raw |',
    '| --- | ---: | --- | ---: | ---: |',
    `| accepted events/s | ${int(i.acceptedEventsPerSecond)} | ${copy}, rows/s | ${int(i.raw.copy.rowsPerSecond)} | ${x.accepted.toFixed(2)} |`,
    `| stored events/s, end to end | ${int(i.storedEventsPerSecond)} | ${copy}, rows/s | ${int(i.raw.copy.rowsPerSecond)} | ${x.stored.toFixed(2)} |`,
    `| queryable events/s (in /stats) | ${int(i.queryableEventsPerSecond)} | ${copy}, rows/s | ${int(i.raw.copy.rowsPerSecond)} | ${x.queryable.toFixed(2)} |`,
    `| request latency p50 | ${ms(i.latencyMs.p50)} | ${unnest}, p50 | ${ms(i.raw.unnest.latencyMs.p50)} | ${x.latencyP50.toFixed(1)} |`,
    `| request latency p99 | ${ms(i.latencyMs.p99)} | ${unnest}, p99 | ${ms(i.raw.unnest.latencyMs.p99)} | ${x.latencyP99.toFixed(1)} |`,
    ...freshnessRows(r),
  ]
}

function freshnessTable(r: BenchReport): string[] {
  return [
    '| freshness | ours | raw engine | raw | ours / raw |',
    '| --- | ---: | --- | ---: | ---: |',
    ...freshnessRows(r),
  ]
}

function freshnessRows(r: BenchReport): string[] {
  const f = r.freshness
  if (!f) return []
  const raw = `1-row INSERT, committed (visible to the next query)`
  return [
    `| freshness p50 (POST → counted in /stats) | ${ms(f.ms.p50)} | ${raw}, p50 | ${ms(f.raw.p50)} | ${r.ratios.freshness!.p50.toFixed(0)} |`,
    `| freshness p99 | ${ms(f.ms.p99)} | ${raw}, p99 | ${ms(f.raw.p99)} | ${r.ratios.freshness!.p99.toFixed(0)} |`,
  ]
}

function shapeLine(d: DatasetShape): string {
  const distinct = Object.entries(d.distinct)
    .map(([k, n]) => `${k} ${int(n)}`)
    .join(', ')
  const sessions = d.distinct.session
  const visits =
    sessions === undefined
      ? ''
      : `; visits found by 30-minute gaps ${int(d.visitsByGap)}, (visit, session) pairs ${int(d.visitSessionPairs)}${d.visitsByGap === sessions && d.visitSessionPairs === sessions ? ' (one session per visit)' : ' (**sessions and visits differ**)'}`
  return (
    `Data, measured on the loaded events: ${int(d.events)} events, ${int(d.users)} users, ${d.eventTypes} event types; distinct values: ${distinct}; ` +
    `properties per event ${d.propertiesPerEvent.min}–${d.propertiesPerEvent.max} (mean ${d.propertiesPerEvent.avg}); ` +
    `${pct(d.campaignShare)} of events from campaign visits; the top path has ${pct(d.topPathShare)} of events${visits}.`
  )
}

// "ours / plain DuckDB" first: above 1, the service answers slower than one plain table would.
function queryTable(
  r: BenchReport,
  queries: readonly QueryTiming[],
  ratios: readonly QueryRatio[],
): string[] {
  const engine = r.settings.mode === 'embedded' ? 'PGlite' : 'PostgreSQL'
  const x3 = (x: { p50: number; p95: number; p99: number }) =>
    `${x.p50.toFixed(2)} / ${x.p95.toFixed(2)} / ${x.p99.toFixed(2)}`
  return [
    '| query | HTTP p50 / p95 / p99 | plain DuckDB table p50 / p95 / p99 | **ours / plain DuckDB** p50 / p95 / p99 | ' +
      `replica direct p50 / p95 / p99 | ours / replica direct p50 / p95 / p99 | plain SQL on ${engine}, p50 | ours / ${engine} p50 |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...queries.map((q, i) => {
      const x = ratios[i]!
      const slower = x.plainDuckdb.p50 > 1 ? ' ⚠' : ''
      // Over its time budget a query has fewer samples: its p99 is then nearly its maximum.
      const few =
        Math.min(q.http.n, q.duckdb.n, q.plainDuckdb.n) < r.settings.runs
          ? ` (runs: HTTP ${q.http.n}, direct ${q.duckdb.n}, plain ${q.plainDuckdb.n})`
          : ''
      return (
        `| ${q.name}${few} | ${triple(q.http)} | ${triple(q.plainDuckdb)} | **${x3(x.plainDuckdb)}**${slower} | ${triple(q.duckdb)} | ${x3(x.duckdb)} | ` +
        `${ms(q.postgres.p50)} | ${ratio(x.postgres.p50)} |`
      )
    }),
  ]
}

/** --projects: the summary, then each project's data, queries and check. */
function projectSections(r: BenchReport): string[] {
  const lines = [...projectsSummary(r), '']
  for (const p of r.projects!)
    lines.push(
      `#### Project ${p.name} (id ${p.id}): ${int(p.seeded)} events of ${int(p.users)} users, ${r.settings.days} days ending ${p.lastDay}`,
      '',
      shapeLine(p.dataset.shape),
      '',
      ...queryTable(r, p.queries, p.ratios),
      '',
      projectCorrectness(p),
      '',
    )
  return lines
}

function soakTable(r: BenchReport): string[] {
  const k = r.soak!
  return [
    '| soak | value |',
    '| --- | --- |',
    `| duration | ${k.seconds.toFixed(1)} s; ${k.kills.length} worker SIGKILL(s): ${k.kills.map((x) => `${x.role} at ${x.atSeconds} s`).join(', ') || 'none'} |`,
    `| accepted | ${int(k.acceptedEvents)} events, ${int(k.acceptedEventsPerSecond)}/s; ${int(k.requests)} requests, ${int(k.retries)} re-sent (503 or lost connection) |`,
    `| request latency p50 / p99 | ${ms(k.requestLatencyMs.p50)} / ${ms(k.requestLatencyMs.p99)} |`,
    ...k.queries.map(
      (q) =>
        `| ${q.name} under load, p50 / p99 (${q.http.n} runs) | ${ms(q.http.p50)} / ${ms(q.http.p99)} |`,
    ),
    `| drain after the load stopped | store ${sec(k.drainToStoreMs)}, replica ${sec(k.drainToReplicaMs)} |`,
  ]
}

function processTable(r: BenchReport): string[] {
  const cpu = r.ingest?.cpu ?? r.readsUnderLoad?.ingest.cpu ?? r.seed?.cpu
  const during = r.ingest
    ? ' while ingesting'
    : r.readsUnderLoad
      ? ' while posting (queries meanwhile) until all stored'
      : r.seed
        ? ' while building the replica'
        : ''
  const rows = r.processes.map(
    (p) =>
      `| ${p.role}${p.restarts ? ` (${p.restarts} restarts)` : ''} | ${p.peakRssMb ?? '?'} MB | ${cpu ? (cpu.service[p.role] ?? 0).toFixed(1) : '—'} |`,
  )
  rows.push(
    `| bench process (load generator; DuckDB when run directly) | ${r.benchPeakRssMb} MB | ${cpu ? cpu.loadGenerator.toFixed(1) : '—'} |`,
  )
  if (cpu) {
    // Embedded: the store is inside the service process, and there is no Redis.
    if (r.settings.mode !== 'embedded')
      rows.push(
        `| PostgreSQL backends | — | ${cpu.postgres.toFixed(1)} |`,
        `| Redis (the whole server) | — | ${cpu.redis.toFixed(1)} |`,
      )
    rows.push(
      `| other (PostgreSQL background, rest of the machine) | — | ${cpu.other.toFixed(1)} |`,
    )
  }
  const startup = `start-up to healthy ${sec(r.startup.firstMs)}${r.startup.restartMs === undefined ? '' : `, restart with the data ${sec(r.startup.restartMs)}`}`
  return [
    `| process | peak RSS | CPU s${during}${cpu ? ` (${Math.round(cpu.busyPercent)}% of ${cpu.cores} cores busy)` : ''} |`,
    '| --- | ---: | ---: |',
    ...rows,
    '',
    `Service ${startup}.`,
  ]
}

function correctness(r: BenchReport): string {
  const c = r.correctness
  const problems = [...c.store.problems, ...c.replica.problems, ...c.answers]
  const verdict = problems.length === 0 ? '**PASS**' : `**FAIL**: ${problems.join('; ')}`
  return (
    `Correctness: ${c.store.engine} holds ${int(c.store.events)} events (expected ${int(c.store.expected)}), the replica ${int(c.replica.rows)}; ` +
    `ids, per-user counts and instants, per-(day, type) counts${r.queries ? ` and every /stats answer against plain SQL on the plain DuckDB table and on ${c.store.engine}` : ''} compared: ${verdict}. ` +
    `Replica rows: ${Object.entries(c.replica.tables)
      .map(([t, n]) => `${t} ${int(n)}`)
      .join(', ')}.`
  )
}
