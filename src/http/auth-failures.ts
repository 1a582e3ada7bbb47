import type { BucketPolicy, RateLimitStore } from './rate-limit/token-bucket.ts'

/**
 * Wrong keys per client address, as a token bucket of failures (shared through
 * Redis like the request buckets): each unknown key spends one. Once an
 * address has none left, this process refuses it without a database lookup
 * until a token is back; a key already known to be valid still passes, so
 * one guesser behind a shared address does not lock out the rest.
 */
export class AuthFailureGuard {
  private readonly blockedUntil = new Map<string, number>()

  constructor(
    private readonly store: RateLimitStore,
    private readonly policy: BucketPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds this address must wait, or 0 when it may try a key. */
  retryAfter(ip: string): number {
    const until = this.blockedUntil.get(ip)
    if (until === undefined) return 0
    const left = until - this.now()
    if (left > 0) return Math.ceil(left / 1000)
    this.blockedUntil.delete(ip)
    return 0
  }

  /** Counts a wrong key; the seconds to wait when that was one too many, 0 otherwise. */
  async failed(ip: string): Promise<number> {
    let decision
    try {
      decision = await this.store.take(`authfail:${ip}`, this.policy)
    } catch {
      return 0 // the count is a protection for the database, not a reason to fail the request
    }
    if (decision.allowed) return 0
    const seconds = Math.max(1, decision.resetSeconds)
    // Bounded: an address is remembered only while blocked, and at most this many at once.
    if (this.blockedUntil.size >= 100_000) this.blockedUntil.clear()
    this.blockedUntil.set(ip, this.now() + seconds * 1000)
    return seconds
  }
}
