import { isTransient } from '../transient-errors.ts'
import { isCorruption } from './duckdb-replica.ts'

/**
 * Whether the sync is keeping up, as /health and /metrics report it. The loop
 * retries a failing chunk for ever (the store may come back, a smaller chunk
 * may fit), so a failure is not an outage; many in a row, or failing for long,
 * is one an operator must hear of.
 */
export interface SyncFailures {
  /** failed chunks since the sync started */
  total: number
  /** failed chunks since the last one that succeeded */
  consecutive: number
  /** when the current run of failures began, null while the sync succeeds */
  failingSince: Date | null
  /** what went wrong, in words safe for the open /health: the error itself is in the log */
  lastError: string | null
  lastErrorAt: Date | null
}

// /health is open, and a driver's message can name hosts and addresses.
function describe(err: Error): string {
  if (isTransient(err)) return 'the event store could not be read'
  if (/out of memory/i.test(err.message)) return 'DuckDB ran out of memory'
  if (isCorruption(err)) return 'the replica file is damaged'
  return 'the sync failed; the log has the error'
}

export class SyncHealth {
  private state: SyncFailures = {
    total: 0,
    consecutive: 0,
    failingSince: null,
    lastError: null,
    lastErrorAt: null,
  }

  failed(err: Error): void {
    const now = new Date()
    this.state = {
      total: this.state.total + 1,
      consecutive: this.state.consecutive + 1,
      failingSince: this.state.failingSince ?? now,
      lastError: describe(err),
      lastErrorAt: now,
    }
  }

  succeeded(): void {
    if (this.state.consecutive === 0) return
    this.state = { ...this.state, consecutive: 0, failingSince: null }
  }

  get failures(): Readonly<SyncFailures> {
    return this.state
  }
}
