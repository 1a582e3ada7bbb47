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

/** `runs` timed calls after `warmup` untimed ones, one at a time. */
export async function timeRuns(
  runs: number,
  warmup: number,
  fn: () => Promise<unknown>,
): Promise<Percentiles> {
  for (let i = 0; i < warmup; i++) await fn()
  const samples: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    await fn()
    samples.push(performance.now() - started)
  }
  return summarize(samples)
}
