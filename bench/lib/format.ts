import type { Percentiles } from './stats.ts'

// How the Markdown reports write numbers.

/** Two decimals, or two significant digits for the tiny ratios of 10M-event PostgreSQL queries. */
export const ratio = (x: number): string => (x >= 0.1 ? x.toFixed(2) : x.toPrecision(2))
export const int = (n: number): string => Math.round(n).toLocaleString('en-US')
export const ms = (n: number): string =>
  n >= 1000 ? `${(n / 1000).toFixed(2)} s` : n >= 10 ? `${Math.round(n)} ms` : `${n.toFixed(1)} ms`
export const sec = (n: number): string => `${(n / 1000).toFixed(1)} s`
export const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
/** "3.7 / 6.7 / 9.1 ms"; each value keeps its unit when they differ. */
export function triple(p: Percentiles): string {
  const parts = [p.p50, p.p95, p.p99].map(ms)
  return parts.every((x) => x.endsWith(' ms'))
    ? `${parts.map((x) => x.slice(0, -3)).join(' / ')} ms`
    : parts.join(' / ')
}
