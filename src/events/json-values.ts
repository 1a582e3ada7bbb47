/** How many levels of objects and arrays `properties` may hold, itself included. */
export const MAX_PROPERTIES_DEPTH = 32

/**
 * Why a parsed properties value cannot be stored exactly as sent, or undefined.
 * Iterative on purpose: JSON.parse builds values of any depth without
 * recursing, and a recursive walk (JSON.stringify's included) would overflow
 * the stack on them, which is why this runs before the value is serialised.
 */
export function propertiesProblem(
  properties: object,
  maxDepth = MAX_PROPERTIES_DEPTH,
): string | undefined {
  const values: unknown[] = [properties]
  const depths: number[] = [1]
  while (values.length > 0) {
    const value = values.pop()
    const depth = depths.pop()!
    if (typeof value === 'number') {
      // JSON.parse reads 1e400 as Infinity, which JSON.stringify writes as null.
      if (!Number.isFinite(value))
        return 'holds a number beyond the range of a double (such as 1e400)'
      // Past 2^53 a double no longer holds every integer: 2^53 + 1 would be
      // stored as 2^53, silently. Refused rather than rounded.
      if (Math.abs(value) > Number.MAX_SAFE_INTEGER)
        return `holds a number beyond ±${Number.MAX_SAFE_INTEGER} (2^53 - 1); send larger numbers as strings`
      continue
    }
    if (value === null || typeof value !== 'object') continue
    if (depth > maxDepth) return `must nest at most ${maxDepth} levels of objects and arrays`
    const container = value as Record<string, unknown>
    for (const key in container) {
      const child = container[key]
      if (typeof child === 'number' || (child !== null && typeof child === 'object')) {
        values.push(child)
        depths.push(depth + 1)
      }
    }
  }
  return undefined
}
