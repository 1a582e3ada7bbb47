/**
 * An optional events-per-day quota per project. A day is a UTC day, so every
 * API host and every time zone agrees on when it starts and the answer to a
 * refused client is the same everywhere: come back at the next UTC midnight.
 * The count lives in memory (embedded, one process) or in Redis (shared by all
 * API processes, see redis-quota-store.ts).
 */
export type QuotaDecision =
  /** `used`: events counted today, this reservation included */
  | { allowed: true; used: number }
  /** nothing was counted; `used` is today's count as it stands */
  | { allowed: false; used: number; retryAfterSeconds: number }

export interface QuotaStore {
  /** Counts `events` against `project`'s quota of `limit` events for the UTC day of `nowMs`; refuses, counting nothing, when used + events > limit. */
  reserve(project: number, events: number, limit: number, nowMs: number): Promise<QuotaDecision>
  /**
   * Gives back events reserved today that were not accepted after all (e.g. the
   * queue was full). Pass the `nowMs` given to reserve, so a request straddling
   * midnight gives back to the day it took from. Never goes below zero.
   */
  release(project: number, events: number, nowMs: number): Promise<void>
}

const DAY_MS = 86_400_000

/** The UTC day of `nowMs`: its number since the epoch, its date, and what is left of it. */
export function quotaDay(nowMs: number): {
  index: number
  date: string
  msLeft: number
  retryAfterSeconds: number
} {
  const index = Math.floor(nowMs / DAY_MS)
  const msLeft = (index + 1) * DAY_MS - nowMs
  return {
    index,
    date: new Date(index * DAY_MS).toISOString().slice(0, 10),
    msLeft,
    // Retry-After is whole seconds; rounding down would invite a retry just before midnight.
    retryAfterSeconds: Math.max(1, Math.ceil(msLeft / 1000)),
  }
}

/** Both stores refuse the same bad input, instead of Redis failing on a fraction mid-script. */
export function checkCount(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`)
  }
}

/** One process's counts, for the embedded mode. */
export class MemoryQuotaStore implements QuotaStore {
  /** day index → project → events counted that day */
  private readonly days = new Map<number, Map<number, number>>()
  private latest = Number.NEGATIVE_INFINITY

  async reserve(
    project: number,
    events: number,
    limit: number,
    nowMs: number,
  ): Promise<QuotaDecision> {
    checkCount('events', events)
    checkCount('limit', limit)
    const day = quotaDay(nowMs)
    const counts = this.day(day.index)
    const used = counts.get(project) ?? 0
    if (used + events > limit) {
      return { allowed: false, used, retryAfterSeconds: day.retryAfterSeconds }
    }
    if (events > 0) counts.set(project, used + events)
    return { allowed: true, used: used + events }
  }

  async release(project: number, events: number, nowMs: number): Promise<void> {
    checkCount('events', events)
    const counts = this.days.get(quotaDay(nowMs).index)
    const used = counts?.get(project)
    if (counts === undefined || used === undefined) return
    const left = used - events
    if (left > 0) counts.set(project, left)
    else counts.delete(project)
  }

  private day(index: number): Map<number, number> {
    let counts = this.days.get(index)
    if (counts !== undefined) return counts
    counts = new Map()
    this.days.set(index, counts)
    // Keep today and yesterday only (yesterday for requests that straddle
    // midnight), so memory stays bounded however long the process runs. A
    // straggler from an older day counts against a map forgotten at once.
    this.latest = Math.max(this.latest, index)
    for (const old of this.days.keys()) if (old < this.latest - 1) this.days.delete(old)
    return counts
  }
}
