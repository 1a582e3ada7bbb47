import type { ImportBenchReport } from './run-import.ts'

// The --import report as Markdown, meant to be pasted into docs/performance.md
// (its CSV import section) as it is.
export function renderImportMarkdown(r: ImportBenchReport): string {
  const m = r.machine
  const int = (n: number) => Math.round(n).toLocaleString('en-US')
  const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`
  const s = r.import.summary
  const w = r.withService
  return [
    `### CSV import of ${int(r.file.rows)} rows (${(r.file.bytes / 2 ** 20).toFixed(0)} MiB)`,
    '',
    `Machine: ${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB, ${m.kernel}; Node ${m.node}, ${m.store}; ` +
      `the import, PostgreSQL and the service on the same machine, ${m.busyBeforeRunPercent}% busy before the run. ${r.startedAt.slice(0, 10)}, src ${r.serviceSource}.`,
    '',
    `Method: one generated file (${int(r.settings.users)} users, ${r.settings.days} days, properties JSON quoted, one user_id in ten quoted); ` +
      'a plain `COPY events (...) FROM STDIN (FORMAT csv, HEADER)` of it into a fresh migrated database, then the import CLI ' +
      '(`node --import tsx src/cli/import.ts FILE --json --quiet`, what `npm run import` runs) as a child process, start-up included, into another, and the same into a third while the service (server mode) runs on it; ' +
      'then the time until its replica (behind /stats) holds every row. ' +
      `${r.rounds.length} round(s), the three loads in turn in each, every database fresh; each row below is that load's median round.`,
    '',
    '| load | rows/s | time | machine busy before / during |',
    '| --- | ---: | ---: | ---: |',
    `| plain COPY (FORMAT csv), 1 connection | ${int(r.copy.rowsPerSecond)} | ${sec(r.copy.ms)} | ${r.copy.busyBeforePercent}% / ${r.copy.busyDuringPercent}% |`,
    `| import CLI, process start to exit | ${int(r.import.rowsPerSecond)} | ${sec(r.import.ms)} | ${r.import.busyBeforePercent}% / ${r.import.busyDuringPercent}% |`,
    `| import ÷ COPY | **${r.ratio.toFixed(2)}×** | | |`,
    `| import CLI while the service runs (its sync used ${w.serviceCpuSeconds.toFixed(1)} s of CPU meanwhile) | ${int(w.rowsPerSecond)} | ${sec(w.ms)} | ${w.busyBeforePercent}% / ${w.busyDuringPercent}% |`,
    `| import with the service running ÷ COPY | ${r.ratioWithService.toFixed(2)}× | | |`,
    `| replica caught up, after that import ended | | ${sec(w.replicaCatchUpMs)} | |`,
    '',
    `Rounds (COPY / import / beside the service, rows/s): ${r.rounds.map((x) => `${int(x.copy.rowsPerSecond)} / ${int(x.import.rowsPerSecond)} / ${int(x.withService.rowsPerSecond)}`).join('; ')}.`,
    '',
    `The import's own summary: ${int(Number(s.rows_per_second))} rows/s over ${Number(s.seconds).toFixed(1)} s (without process start-up); ` +
      `its process used ${r.import.cpuSeconds === undefined ? '?' : r.import.cpuSeconds.toFixed(1)} s of CPU.`,
    '',
  ].join('\n')
}
