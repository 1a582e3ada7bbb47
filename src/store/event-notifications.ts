import pg from 'pg'
import type { Logger } from '../logger.ts'
import { backoffDelay } from '../transient-errors.ts'

/** Notified, on commit, by every insert into events that stored new rows (INSERT_BATCH). */
export const EVENTS_CHANNEL = 'ea_events'

/**
 * LISTENs for EVENTS_CHANNEL on a connection of its own (a pooled one would
 * be handed to other queries and lose the subscription) and calls `onNotify`
 * for each notification, and once after each (re)connect for rows committed
 * while it was away. A lost connection is reopened with backoff; meanwhile
 * the sync has only its poll.
 */
export class EventsListener {
  private client: pg.Client | undefined
  private timer: NodeJS.Timeout | undefined
  private failures = 0
  private stopped = false

  constructor(
    private readonly url: string,
    private readonly onNotify: () => void,
    private readonly log: Logger,
    private readonly maxDelayMs = 30_000,
  ) {}

  get listening(): boolean {
    return this.client !== undefined
  }

  start(): void {
    void this.connect()
  }

  private async connect(): Promise<void> {
    this.timer = undefined
    const client = new pg.Client({
      connectionString: this.url,
      connectionTimeoutMillis: 5_000,
      keepAlive: true,
      application_name: 'event-analytics-listen',
    })
    let lost = false
    const onLost = (err?: Error) => {
      if (lost) return
      lost = true
      if (this.client === client) this.client = undefined
      client.end().catch(() => {})
      if (this.stopped) return
      this.failures++
      const delay = backoffDelay(this.failures, 100, this.maxDelayMs)
      this.log.warn(
        { err: err?.message, retryInMs: delay },
        'event notifications lost; the sync polls until they are back',
      )
      this.timer = setTimeout(() => void this.connect(), delay)
    }
    client.on('error', onLost)
    client.on('end', () => onLost())
    client.on('notification', () => this.onNotify())
    try {
      await client.connect()
      await client.query(`LISTEN ${EVENTS_CHANNEL}`)
    } catch (err) {
      onLost(err as Error)
      return
    }
    if (this.stopped) {
      await client.end().catch(() => {})
      return
    }
    this.client = client
    if (this.failures > 0) this.log.info('event notifications back')
    this.failures = 0
    this.onNotify()
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    const client = this.client
    this.client = undefined
    await client?.end().catch(() => {})
  }
}
