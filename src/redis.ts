import { Redis } from 'ioredis'
import type { Logger } from './logger.ts'

/** Makes a Redis connection whose commands fail after `commandTimeoutMs` (a blocking read needs its block time and a margin). */
export type RedisConnector = (commandTimeoutMs: number) => Redis

/**
 * Every Redis connection of a process is made here, with the same settings.
 * A command fails quickly while Redis is away instead of waiting in ioredis's
 * memory: the API then answers 503 and the worker backs off.
 */
export function redisConnector(url: string, log: Logger): RedisConnector {
  let lastErrorLogAt = 0
  return (commandTimeoutMs) => {
    const conn = new Redis(url, {
      maxRetriesPerRequest: 1,
      connectTimeout: 5_000,
      commandTimeout: commandTimeoutMs,
    })
    // ioredis reconnects by itself; say so now and then rather than on every attempt.
    conn.on('error', (err: Error) => {
      if (Date.now() - lastErrorLogAt < 5_000) return
      lastErrorLogAt = Date.now()
      log.warn({ err: err.message }, 'redis connection error; reconnecting')
    })
    return conn
  }
}
