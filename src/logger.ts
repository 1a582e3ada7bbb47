import { type Logger, pino } from 'pino'

export type { Logger }

export function createLogger(level: string, destination: 1 | 2 = 1): Logger {
  return pino(
    { level, base: { service: 'event-analytics' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination(destination),
  )
}

/**
 * A command-line tool's logger: on stderr, since stdout carries its output,
 * and quiet at the default level, where start-up lines (migrations, the store
 * opening) are noise.
 */
export function cliLogger(level: string, component: string): Logger {
  return createLogger(level === 'info' ? 'warn' : level, 2).child({ component })
}
