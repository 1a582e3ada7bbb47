import type { Redis } from 'ioredis'
import { checkCount, type QuotaDecision, type QuotaStore, quotaDay } from './quota-store.ts'

// The quota of quota-store.ts, counted inside Redis so every API process shares
// one count per (project, UTC day). Check and add are one script: two processes
// cannot both see room for the last events. The day comes from the caller's
// nowMs (not Redis's clock) so the key, the decision and Retry-After agree.
// The key expires two days after its day ends, relative to nowMs, so past days
// cost nothing and a release that straddles midnight still finds yesterday.

// KEYS[1] the day's count; ARGV: events, limit, ttl in ms. Returns {allowed, used}.
const RESERVE = `
local events = tonumber(ARGV[1])
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + events > tonumber(ARGV[2]) then
  return {0, used}
end
used = redis.call('INCRBY', KEYS[1], events)
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, used}
`

// KEYS[1] the day's count; ARGV: events. A missing key (expired, or nothing was
// reserved) stays missing; a count never goes below zero. DECRBY and INCRBY
// keep the key's expiry.
const RELEASE = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local left = redis.call('DECRBY', KEYS[1], ARGV[1])
if left < 0 then
  redis.call('INCRBY', KEYS[1], -left)
end
return 1
`

const KEEP_AFTER_DAY_MS = 2 * 86_400_000

type WithQuota = Redis & {
  eaQuotaReserve(
    key: string,
    events: number,
    limit: number,
    ttlMs: number,
  ): Promise<[number, number]>
  eaQuotaRelease(key: string, events: number): Promise<number>
}

export class RedisQuotaStore implements QuotaStore {
  private readonly redis: WithQuota

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.redis = redis as WithQuota
    this.redis.defineCommand('eaQuotaReserve', { numberOfKeys: 1, lua: RESERVE })
    this.redis.defineCommand('eaQuotaRelease', { numberOfKeys: 1, lua: RELEASE })
  }

  async reserve(
    project: number,
    events: number,
    limit: number,
    nowMs: number,
  ): Promise<QuotaDecision> {
    checkCount('events', events)
    checkCount('limit', limit)
    const day = quotaDay(nowMs)
    const [allowed, used] = await this.redis.eaQuotaReserve(
      this.key(project, day.date),
      events,
      limit,
      day.msLeft + KEEP_AFTER_DAY_MS,
    )
    return allowed === 1
      ? { allowed: true, used }
      : { allowed: false, used, retryAfterSeconds: day.retryAfterSeconds }
  }

  async release(project: number, events: number, nowMs: number): Promise<void> {
    checkCount('events', events)
    await this.redis.eaQuotaRelease(this.key(project, quotaDay(nowMs).date), events)
  }

  /** The prefix ends in its own separator (REDIS_KEY_PREFIX defaults to `ea:`). */
  private key(project: number, date: string): string {
    return `${this.prefix}quota:${project}:${date}`
  }
}
