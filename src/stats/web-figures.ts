// The web rates from counts, in one place (the endpoints and the bench's
// plain answers). Each rounds half up in integers, so no binary
// floating-point error can move a value across a rounding boundary.

/** round(part / whole × 10^decimals) / 10^decimals, halves up, from integers. */
function ratio(part: bigint, whole: bigint, decimals: number): number {
  const scale = 10n ** BigInt(decimals)
  return Number((2n * part * scale + whole) / (2n * whole)) / Number(scale)
}

/**
 * bounce_rate (percent, one decimal), visit_duration (mean seconds, one
 * decimal) and views_per_visit (two decimals); all 0 without visits.
 */
export function visitFigures(
  visits: number,
  views: number,
  bounces: number,
  durationMicros: bigint | number,
): { bounce_rate: number; visit_duration: number; views_per_visit: number } {
  if (visits === 0) return { bounce_rate: 0, visit_duration: 0, views_per_visit: 0 }
  const v = BigInt(visits)
  return {
    bounce_rate: ratio(100n * BigInt(bounces), v, 1),
    visit_duration: ratio(BigInt(durationMicros), v * 1_000_000n, 1),
    views_per_visit: ratio(BigInt(views), v, 2),
  }
}
