import type { Logger } from '../../logger.ts'
import {
  type BucketDecision,
  type BucketPolicy,
  MemoryRateLimitStore,
  type RateLimitStore,
} from './token-bucket.ts'

export interface FallbackOptions {
  /** how long Redis is left alone after a failure before it is tried again */
  skipMs?: number
  onFallback?: () => void
  now?: () => number
}

const SKIP_MS = 5_000

/**
 * The shared buckets in Redis while Redis answers; this process's own buckets
 * while it does not. A failed call opens a circuit that skips Redis for
 * `skipMs`, so an outage costs one short command timeout every few seconds,
 * not one per request. While falling back every process limits on its own: a
 * client spread over n processes may get up to n times its rate.
 */
export class FallbackRateLimitStore implements RateLimitStore {
  private readonly memory: MemoryRateLimitStore
  private skipUntil = 0
  private readonly skipMs: number
  private readonly now: () => number

  constructor(
    private readonly primary: RateLimitStore,
    private readonly log: Logger,
    private readonly options: FallbackOptions = {},
  ) {
    this.now = options.now ?? Date.now
    this.skipMs = options.skipMs ?? SKIP_MS
    this.memory = new MemoryRateLimitStore(this.now)
  }

  async take(key: string, policy: BucketPolicy): Promise<BucketDecision> {
    if (this.now() >= this.skipUntil) {
      try {
        const decision = await this.primary.take(key, policy)
        if (this.skipUntil !== 0) {
          this.skipUntil = 0
          this.log.info('rate limiter: Redis answers again; buckets shared again')
        }
        return decision
      } catch (err) {
        if (this.skipUntil === 0)
          this.log.warn(
            { err: (err as Error).message },
            'rate limiter: Redis failed; limiting in this process',
          )
        this.skipUntil = this.now() + this.skipMs
      }
    }
    this.options.onFallback?.()
    return this.memory.take(key, policy)
  }
}
