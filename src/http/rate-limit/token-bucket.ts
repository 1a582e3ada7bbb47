/**
 * Token bucket: `capacity` tokens at most (the burst), refilled continuously at
 * `refillPerMs`. Each request takes one token or is refused. The same
 * arithmetic runs in memory (embedded) and inside Redis (shared by API
 * processes, see redis-token-bucket.ts).
 */
export interface BucketPolicy {
  capacity: number
  refillPerMs: number
}

export interface BucketDecision {
  allowed: boolean
  limit: number
  /** whole tokens left after this request */
  remaining: number
  /** seconds until the next whole token is back (0 when the bucket is full) */
  resetSeconds: number
}

export interface RateLimitStore {
  take(key: string, policy: BucketPolicy): Promise<BucketDecision>
}

export function decide(tokens: number, allowed: boolean, policy: BucketPolicy): BucketDecision {
  const missing = tokens >= policy.capacity ? 0 : Math.floor(tokens) + 1 - tokens
  return {
    allowed,
    limit: policy.capacity,
    remaining: Math.max(0, Math.floor(tokens)),
    resetSeconds: missing === 0 ? 0 : Math.max(1, Math.ceil(missing / policy.refillPerMs / 1000)),
  }
}

/** Refill, then take one token if there is one. Pure: the stores keep (tokens, at). */
export function refillAndTake(
  state: { tokens: number; at: number } | undefined,
  now: number,
  policy: BucketPolicy,
): { tokens: number; at: number; allowed: boolean } {
  const elapsed = state ? Math.max(0, now - state.at) : 0
  let tokens = state
    ? Math.min(policy.capacity, state.tokens + elapsed * policy.refillPerMs)
    : policy.capacity
  const allowed = tokens >= 1
  if (allowed) tokens -= 1
  return { tokens, at: now, allowed }
}

/** One process's buckets, for the embedded mode. */
export class MemoryRateLimitStore implements RateLimitStore {
  private readonly buckets = new Map<string, { tokens: number; at: number }>()

  constructor(private readonly now: () => number = Date.now) {}

  async take(key: string, policy: BucketPolicy): Promise<BucketDecision> {
    const next = refillAndTake(this.buckets.get(key), this.now(), policy)
    // Full buckets carry no information: forget them so the map stays small.
    if (this.buckets.size > 100_000) this.prune(policy)
    this.buckets.set(key, { tokens: next.tokens, at: next.at })
    return decide(next.tokens, next.allowed, policy)
  }

  private prune(policy: BucketPolicy): void {
    const now = this.now()
    for (const [key, b] of this.buckets) {
      if (b.tokens + (now - b.at) * policy.refillPerMs >= policy.capacity) this.buckets.delete(key)
    }
  }
}
