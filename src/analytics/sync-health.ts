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
  lastError: string | null
  lastErrorAt: Date | null
}

export class SyncHealth {
  private state: SyncFailures = { total: 0, consecutive: 0, failingSince: null, lastError: null, lastErrorAt: null }

  failed(err: Error): void {
    const now = new Date()
    this.state = {
      total: this.state.total + 1,
      consecutive: this.state.consecutive + 1,
      failingSince: this.state.failingSince ?? now,
      lastError: err.message,
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
