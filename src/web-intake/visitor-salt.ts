import { randomBytes } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { Logger } from '../logger.ts'

/**
 * The salt of a UTC day, for the cookieless visitor id (visitor-id.ts). A new
 * one each day, never kept past its day: once it is gone, nobody (the
 * operator included) can tell whether two days' visitors were the same
 * person, as Plausible does. Every API process must hash with the same salt,
 * so in server mode it lives in Redis, which expires it at the day's end.
 */
export interface DailySalt {
  saltOf(day: string): Promise<Buffer>
}

/** The first instant after `day` (YYYY-MM-DD), in ms. */
export const endOfDay = (day: string) => Date.parse(`${day}T00:00:00Z`) + 86_400_000

/** One process's salts (embedded mode): the current day's only. */
export class MemoryDailySalt implements DailySalt {
  private current: { day: string; salt: Buffer } | undefined

  async saltOf(day: string): Promise<Buffer> {
    if (this.current?.day !== day) this.current = { day, salt: randomBytes(32) }
    return this.current.salt
  }
}

/**
 * The day's salt in Redis: the first process to need it sets it (SET NX),
 * with an expiry at the day's end; the others read it. Each process keeps it
 * in memory until that same instant. While Redis cannot be reached a process
 * hashes with a salt of its own, so for that while one visitor may count as
 * one per process; better than refusing page views.
 */
export class RedisDailySalt implements DailySalt {
  private current: { day: string; salt: Buffer } | undefined
  private readonly fallback = new MemoryDailySalt()
  private lastWarning = 0

  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly log: Logger,
  ) {}

  async saltOf(day: string): Promise<Buffer> {
    if (this.current?.day === day) return this.current.salt
    const key = `${this.prefix}visitor-salt:${day}`
    try {
      const expireAt = Math.floor(endOfDay(day) / 1000)
      await this.redis.set(key, randomBytes(32).toString('base64'), 'EXAT', expireAt, 'NX')
      const stored = await this.redis.get(key)
      if (stored === null) throw new Error('the salt expired as it was read')
      this.current = { day, salt: Buffer.from(stored, 'base64') }
      return this.current.salt
    } catch (err) {
      if (Date.now() - this.lastWarning > 60_000) {
        this.lastWarning = Date.now()
        this.log.warn(
          { err: (err as Error).message },
          "visitor salt: Redis failed; hashing with this process's own salt",
        )
      }
      return this.fallback.saltOf(day)
    }
  }
}
