import { int } from './format.ts'
import type { BenchReport, ProjectReport } from './report.ts'

// The parts of the Markdown report that only a --projects run has.

const markersOf = (p: ProjectReport) => p.correctness.store.expected - p.seeded

export function projectsMethod(r: BenchReport): string {
  const ps = r.projects!
  const shares = ps
    .map((p) => `${p.name} ${int(p.seeded)} events of ${int(p.users)} users`)
    .join(', ')
  return (
    `Projects: ${ps.length} side by side in one database and one replica file (a DuckDB schema and a sync each): ${shares}; ` +
    "each project's users are numbered from an offset, so names recur across projects while the people (events, first days, visits) differ. " +
    "Every query is asked of each project with `project=NAME`, and timed beside the same query functions on that project's replica schema, " +
    "plain SQL on a plain DuckDB table of that project's events only (exported with `WHERE project_id = id`) and plain SQL on a PostgreSQL view of its rows; " +
    `the freshness markers go to ${ps[0]!.name}.`
  )
}

/** One line per project: sizes, the counts compared, how many queries are at most as slow as plain DuckDB. */
export function projectsSummary(r: BenchReport): string[] {
  return [
    '| project | events seeded | users | store / replica rows | ours ≤ plain DuckDB at p50 / p95 / p99 | answers equal to plain DuckDB / PostgreSQL | check |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    ...r.projects!.map((p) => {
      const c = p.correctness
      const n = p.queries.length
      const within = (k: 'p50' | 'p95' | 'p99') =>
        p.ratios.filter((x) => x.plainDuckdb[k] <= 1).length
      const markers = markersOf(p)
      return (
        `| ${p.name} (id ${p.id}) | ${int(p.seeded)}${markers ? ` (+${markers} markers)` : ''} | ${int(p.users)} | ${int(c.store.events)} / ${int(c.replica.rows)} | ` +
        `${within('p50')} / ${within('p95')} / ${within('p99')} of ${n} | ` +
        `${p.queries.filter((q) => q.samePlainDuckdbAnswer).length} / ${p.queries.filter((q) => q.sameAnswer).length} of ${n} | ${c.ok ? 'PASS' : '**FAIL**'} |`
      )
    }),
  ]
}

export function projectCorrectness(p: ProjectReport): string {
  const c = p.correctness
  const problems = [...c.store.problems, ...c.replica.problems, ...c.answers]
  const verdict = problems.length === 0 ? '**PASS**' : `**FAIL**: ${problems.join('; ')}`
  const markers = markersOf(p)
  return (
    `Correctness of ${p.name}: ${c.store.engine} holds ${int(c.store.events)} events of this project (expected ${int(c.store.expected)}: ${int(p.seeded)} seeded${markers ? ` and ${markers} freshness markers` : ''}), ` +
    `its replica schema p${p.id} ${int(c.replica.rows)}; ids, per-user counts and instants, per-(day, type) counts, its users, ` +
    `and every /stats answer against plain SQL on its plain DuckDB table and on its ${c.store.engine} view compared: ${verdict}. ` +
    `Replica rows: ${Object.entries(c.replica.tables)
      .map(([t, n]) => `${t} ${int(n)}`)
      .join(', ')}.`
  )
}

export function projectsCorrectness(r: BenchReport): string {
  const c = r.correctness
  const problems = [...c.store.problems, ...c.replica.problems, ...c.answers]
  const verdict = problems.length === 0 ? '**PASS**' : `**FAIL**: ${problems.join('; ')}`
  const ps = r.projects!
  return (
    `Correctness, project by project: ${c.store.engine} holds ${int(c.store.events)} events (expected ${int(c.store.expected)}; ` +
    `${ps.map((p) => `${p.name} ${int(p.correctness.store.events)}`).join(', ')}), none of another project; ` +
    `the replica file holds the schemas of projects ${ps.map((p) => p.id).join(', ')} only, with ${int(c.replica.rows)} events ` +
    `(${ps.map((p) => `${p.name} ${int(p.correctness.replica.rows)}`).join(', ')}); ` +
    `each project's store rows, replica and answers compared as above: ${verdict}.`
  )
}
