/** Nearest-rank percentile (p in 0..100) of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!
}

/** Items per second over an interval given in ms. */
export function perSecond(items: number, ms: number): number {
  return ms > 0 ? items / (ms / 1000) : NaN
}

export interface Percentiles {
  p50: number
  p95: number
  p99: number
  max: number
  /** samples they were taken from */
  n: number
}

/** The percentiles the report prints, in ms rounded to 0.1. */
export function summarize(samples: readonly number[]): Percentiles {
  const r = (p: number) => Math.round(percentile(samples, p) * 10) / 10
  return { p50: r(50), p95: r(95), p99: r(99), max: r(100), n: samples.length }
}

/** Fewest timed runs a query gets when it is over its time budget. */
export const MIN_BUDGET_RUNS = 3

/**
 * `runs` timed calls after `warmup` untimed ones, one at a time. A query that
 * takes seconds would hold the run for an hour at 50 runs on each engine: once
 * `budgetMs` is spent it stops (after one warm-up and MIN_BUDGET_RUNS timed
 * runs at least), and `n` says how many samples its percentiles have.
 */
export async function timeRuns(
  runs: number,
  warmup: number,
  fn: () => Promise<unknown>,
  budgetMs = Infinity,
): Promise<Percentiles> {
  const started = performance.now()
  for (let i = 0; i < warmup && (i === 0 || performance.now() - started < budgetMs / 4); i++)
    await fn()
  const samples: number[] = []
  for (
    let i = 0;
    i < runs && (i < MIN_BUDGET_RUNS || performance.now() - started < budgetMs);
    i++
  ) {
    const at = performance.now()
    await fn()
    samples.push(performance.now() - at)
  }
  return summarize(samples)
}
