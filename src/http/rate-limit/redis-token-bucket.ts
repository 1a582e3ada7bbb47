import type { Redis } from 'ioredis'
import {
  type BucketDecision,
  type BucketPolicy,
  decide,
  type RateLimitStore,
} from './token-bucket.ts'

// The token bucket of token-bucket.ts, run atomically inside Redis so every API
// process shares one bucket per client. Redis's own clock is used, so API
// hosts with skewed clocks still agree. The key expires once the bucket would
// be full again: an idle client costs no memory.
// KEYS[1] bucket; ARGV: capacity, refill per ms. Returns {allowed, tokens}.
const TAKE = `
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
if tokens == nil then
  tokens = capacity
else
  tokens = math.min(capacity, tokens + math.max(0, now - tonumber(state[2])) * rate)
end
local allowed = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate) + 1000)
return {allowed, tostring(tokens)}
`

type WithTake = Redis & {
  eaTakeToken(key: string, capacity: number, rate: number): Promise<[number, string]>
}

export class RedisRateLimitStore implements RateLimitStore {
  private readonly redis: WithTake

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = redis as WithTake
    this.redis.defineCommand('eaTakeToken', { numberOfKeys: 1, lua: TAKE })
  }

  async take(key: string, policy: BucketPolicy): Promise<BucketDecision> {
    const [allowed, tokens] = await this.redis.eaTakeToken(
      `${this.prefix}ratelimit:${key}`,
      policy.capacity,
      policy.refillPerMs,
    )
    return decide(Number(tokens), allowed === 1, policy)
  }
}
