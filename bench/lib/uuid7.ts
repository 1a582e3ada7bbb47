import { randomFillSync } from 'node:crypto'

// UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Written
// here rather than taken from a library: node:crypto makes only v4, the
// format is a few lines, and the project gains no dependency for a benchmark.
// No monotonic counter within a millisecond: ids only need to be unique and
// roughly time-ordered, as a fleet of clients would send them.

const POOL_IDS = 4096
const pool = Buffer.alloc(16 * POOL_IDS)
let next = POOL_IDS

export function uuidv7(ms: number): string {
  if (next === POOL_IDS) {
    randomFillSync(pool)
    next = 0
  }
  const b = pool.subarray(16 * next, 16 * ++next)
  b.writeUIntBE(ms, 0, 6)
  b[6] = 0x70 | (b[6]! & 0x0f)
  b[8] = 0x80 | (b[8]! & 0x3f)
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
