import type { Redis } from 'ioredis'
import type { NormalizedEvent, ProjectEvent } from '../events/event-schema.ts'
import { DEFAULT_PROJECT_ID } from '../projects/project-store.ts'
import type { RedisConnector } from '../redis.ts'
import { CopyBatch } from '../store/copy-batch.ts'
import { decodeCopyRows } from '../store/copy-rows.ts'
import {
  type EventQueue,
  type QueueEntry,
  QueueFullError,
  type QueueStatus,
} from './event-queue.ts'
import { ACK, DEAD_LETTER, DEAD_LETTER_EVENTS, ENQUEUE } from './redis-scripts.ts'

export interface RedisQueueOptions {
  connect: RedisConnector
  /** every key starts with it, so several deployments or test runs can share one Redis */
  prefix: string
  /** most events allowed to wait in the stream */
  maxEvents: number
}

// Enqueue, ack and status are single commands: seconds are already an outage.
const COMMAND_TIMEOUT_MS = 5_000

export const GROUP = 'workers'

/** The queue's Redis keys. The hash tag keeps them in one Redis Cluster slot, which the scripts need. */
export function queueKeys(prefix: string): QueueKeys {
  const base = `${prefix}{queue}`
  return {
    stream: `${base}:events`,
    counter: `${base}:queued-events`,
    dlq: `${base}:dead-letter`,
    queuedByProject: `${base}:queued-by-project`,
    deadByProject: `${base}:dead-letters-by-project`,
  }
}
interface QueueKeys {
  stream: string
  counter: string
  dlq: string
  /** hashes of project id → queued events, → dead-letter records */
  queuedByProject: string
  deadByProject: string
}
type Fields = string[]
// Entries are read as bytes: their rows are binary, and stay a Buffer to the COPY.
type BufferEntry = [id: Buffer, fields: Buffer[] | null]

interface Scripts {
  eaEnqueue(
    stream: string,
    counter: string,
    queuedByProject: string,
    max: number,
    n: number,
    rid: string,
    rows: Buffer,
    project: number,
  ): Promise<string | null>
  eaAck(
    stream: string,
    counter: string,
    queuedByProject: string,
    group: string,
    ...ids: string[]
  ): Promise<number>
  eaDeadLetter(
    stream: string,
    counter: string,
    dlq: string,
    queuedByProject: string,
    deadByProject: string,
    group: string,
    id: string,
    error: string,
    deliveries: number,
    failedAt: string,
  ): Promise<number>
  eaDeadLetterEvents(
    stream: string,
    counter: string,
    dlq: string,
    queuedByProject: string,
    deadByProject: string,
    group: string,
    id: string,
    deliveries: number,
    failedAt: string,
    ...pairs: string[]
  ): Promise<number>
}

/**
 * Redis Streams with one consumer group. Entries stay in the stream until a
 * worker acknowledges them after its commit; a consumer that dies leaves them
 * pending for another to claim. Acknowledged entries are deleted, so the
 * stream's length is the backlog.
 */
export class RedisStreamQueue implements EventQueue {
  private readonly redis: Redis & Scripts
  private readonly blocking = new Map<string, Redis>()
  private readonly keys: QueueKeys
  private groupReady: Promise<void> | undefined

  constructor(private readonly options: RedisQueueOptions) {
    this.keys = queueKeys(options.prefix)
    this.redis = options.connect(COMMAND_TIMEOUT_MS) as Redis & Scripts
    this.redis.defineCommand('eaEnqueue', { numberOfKeys: 3, lua: ENQUEUE })
    this.redis.defineCommand('eaAck', { numberOfKeys: 3, lua: ACK })
    this.redis.defineCommand('eaDeadLetter', { numberOfKeys: 5, lua: DEAD_LETTER })
    this.redis.defineCommand('eaDeadLetterEvents', { numberOfKeys: 5, lua: DEAD_LETTER_EVENTS })
  }

  async enqueue(
    events: readonly NormalizedEvent[],
    meta: { project: number; requestId?: string; propertiesJson?: readonly string[] },
  ): Promise<string> {
    // Encoded once, here, in the form PostgreSQL loads: the worker neither
    // parses nor serialises the events again (that was most of its CPU).
    const batch = new CopyBatch()
    batch.add(events, meta.project, meta.propertiesJson)
    const { data, rows } = batch.finish(false)
    const id = await this.redis.eaEnqueue(
      this.keys.stream,
      this.keys.counter,
      this.keys.queuedByProject,
      this.options.maxEvents,
      rows,
      meta.requestId ?? '',
      data,
      meta.project,
    )
    if (id === null) throw new QueueFullError(5)
    return id
  }

  async read(consumer: string, count: number, blockMs: number): Promise<QueueEntry[]> {
    await this.ensureGroup()
    if (!this.blocking.has(consumer)) {
      // Registered up front so an idle worker shows in the status before its first entry.
      await this.redis.xgroup('CREATECONSUMER', this.keys.stream, GROUP, consumer)
    }
    const conn = this.blockingConnection(consumer, blockMs)
    const reply = (await conn.callBuffer(
      'xreadgroup',
      'GROUP',
      GROUP,
      consumer,
      'COUNT',
      count,
      'BLOCK',
      blockMs,
      'STREAMS',
      this.keys.stream,
      '>',
    )) as Array<[Buffer, BufferEntry[]]> | null
    const entries = reply?.[0]?.[1] ?? []
    return entries.flatMap(([id, fields]) => (fields ? [toEntry(String(id), fields, 1)] : []))
  }

  async claimStale(consumer: string, minIdleMs: number, count: number): Promise<QueueEntry[]> {
    await this.ensureGroup()
    const [, claimed, deletedIds] = (await this.redis.callBuffer(
      'xautoclaim',
      this.keys.stream,
      GROUP,
      consumer,
      minIdleMs,
      '0-0',
      'COUNT',
      count,
    )) as [Buffer, BufferEntry[], Buffer[]?]
    const deleted = (deletedIds ?? []).map(String)
    // Entries deleted from the stream while pending can only be forgotten.
    if (deleted.length > 0) await this.redis.xack(this.keys.stream, GROUP, ...deleted)
    const live = claimed.flatMap(([id, fields]) =>
      fields ? [[String(id), fields] as [string, Buffer[]]] : [],
    )
    if (live.length === 0) return []
    const deliveries = await this.deliveryCounts(
      consumer,
      live[0]![0],
      live[live.length - 1]![0],
      live.length,
    )
    return live.map(([id, fields]) => toEntry(id, fields, deliveries.get(id) ?? 1))
  }

  private async deliveryCounts(
    consumer: string,
    first: string,
    last: string,
    count: number,
  ): Promise<Map<string, number>> {
    const rows = (await this.redis.xpending(
      this.keys.stream,
      GROUP,
      first,
      last,
      count * 2,
      consumer,
    )) as Array<[string, string, number, number]>
    return new Map(rows.map(([id, , , n]) => [id, Number(n)]))
  }

  async keepAlive(consumer: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    await this.redis.xclaim(this.keys.stream, GROUP, consumer, 0, ...ids, 'JUSTID')
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    await this.redis.eaAck(
      this.keys.stream,
      this.keys.counter,
      this.keys.queuedByProject,
      GROUP,
      ...ids,
    )
  }

  async pruneConsumers(maxIdleMs: number): Promise<number> {
    await this.ensureGroup()
    const consumers = (
      (await this.redis.xinfo('CONSUMERS', this.keys.stream, GROUP)) as Fields[]
    ).map(fieldMap)
    let pruned = 0
    for (const c of consumers) {
      // A consumer with pending entries is never removed: that would orphan them.
      if (Number(c.pending) === 0 && Number(c.idle) > maxIdleMs && c.name) {
        await this.redis.xgroup('DELCONSUMER', this.keys.stream, GROUP, c.name)
        pruned++
      }
    }
    return pruned
  }

  async deadLetter(entry: QueueEntry, error: string): Promise<void> {
    await this.redis.eaDeadLetter(
      this.keys.stream,
      this.keys.counter,
      this.keys.dlq,
      this.keys.queuedByProject,
      this.keys.deadByProject,
      GROUP,
      entry.id,
      error.slice(0, 2000),
      entry.deliveries,
      new Date().toISOString(),
    )
  }

  async deadLetterEvents(
    entry: QueueEntry,
    rejects: ReadonlyArray<{ event: ProjectEvent; error: string }>,
  ): Promise<void> {
    const pairs = rejects.flatMap((r) => [r.error.slice(0, 2000), JSON.stringify([r.event])])
    await this.redis.eaDeadLetterEvents(
      this.keys.stream,
      this.keys.counter,
      this.keys.dlq,
      this.keys.queuedByProject,
      this.keys.deadByProject,
      GROUP,
      entry.id,
      entry.deliveries,
      new Date().toISOString(),
      ...pairs,
    )
  }

  /** Dead-lettered entries, newest first, for inspection: binary rows are shown as their events' JSON. */
  async deadLetters(count = 100): Promise<Array<Record<string, string>>> {
    const entries = await this.redis.xrevrangeBuffer(this.keys.dlq, '+', '-', 'COUNT', count)
    return entries.map(([id, fields]) => {
      const record: Record<string, string> = { id: String(id) }
      for (let i = 0; i + 1 < fields.length; i += 2) {
        const name = String(fields[i])
        if (name !== 'rows') record[name] = String(fields[i + 1])
        else Object.assign(record, readableRows(fields[i + 1]!))
      }
      return record
    })
  }

  async status(project: number): Promise<QueueStatus> {
    await this.ensureGroup()
    const results = await this.redis
      .multi()
      .xlen(this.keys.stream)
      .get(this.keys.counter)
      .xpending(this.keys.stream, GROUP)
      .xlen(this.keys.dlq)
      .xinfo('CONSUMERS', this.keys.stream, GROUP)
      .hget(this.keys.queuedByProject, String(project))
      .hget(this.keys.deadByProject, String(project))
      .exec()
    if (!results) throw new Error('queue status transaction was discarded')
    for (const [err] of results) if (err) throw err
    const [length, queued, pending, dlq, consumers, projectQueued, projectDead] = results.map(
      ([, v]) => v,
    ) as [
      number,
      string | null,
      [number, ...unknown[]],
      number,
      Fields[],
      string | null,
      string | null,
    ]
    return {
      enabled: true,
      queued_events: Number(projectQueued ?? 0),
      dead_lettered: Number(projectDead ?? 0),
      max_events: this.options.maxEvents,
      shared: {
        length,
        queued_events: Number(queued ?? 0),
        pending: Number(pending[0]),
        dead_lettered: dlq,
        consumers: consumers.map((c) => {
          const f = fieldMap(c)
          return {
            name: f.name ?? '',
            pending: Number(f.pending ?? 0),
            idle_ms: Number(f.idle ?? 0),
          }
        }),
      },
    }
  }

  async ping(): Promise<void> {
    await this.redis.ping()
  }

  async close(): Promise<void> {
    for (const conn of this.blocking.values()) conn.disconnect()
    this.blocking.clear()
    await this.redis.quit().catch(() => this.redis.disconnect())
  }

  /** A blocking read holds its connection, so each consumer gets its own. */
  private blockingConnection(consumer: string, blockMs: number): Redis {
    let conn = this.blocking.get(consumer)
    if (!conn) {
      conn = this.options.connect(blockMs + COMMAND_TIMEOUT_MS)
      this.blocking.set(consumer, conn)
    }
    return conn
  }

  private ensureGroup(): Promise<void> {
    this.groupReady ??= this.redis.xgroup('CREATE', this.keys.stream, GROUP, '0', 'MKSTREAM').then(
      () => undefined,
      (err: Error) => {
        if (!err.message.includes('BUSYGROUP')) {
          this.groupReady = undefined
          throw err
        }
      },
    )
    return this.groupReady
  }
}

function fieldMap(fields: Array<string | number>): Record<string, string> {
  const out: Record<string, string> = {}
  for (let i = 0; i + 1 < fields.length; i += 2) out[String(fields[i])] = String(fields[i + 1])
  return out
}

function toEntry(id: string, fields: Buffer[], deliveries: number): QueueEntry {
  // Entries queued before projects name none: they are the default project's.
  const entry: QueueEntry = { id, count: 0, project: DEFAULT_PROJECT_ID, deliveries }
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = String(fields[i])
    const value = fields[i + 1]!
    if (name === 'rows') entry.rows = value
    else if (name === 'events') entry.payload = String(value)
    else if (name === 'n') entry.count = Number(String(value))
    else if (name === 'p') entry.project = Number(String(value))
    else if (name === 'rid' && value.length > 0) entry.requestId = String(value)
  }
  // Neither field: an empty payload, which the consumer refuses as unreadable.
  if (!entry.rows && entry.payload === undefined) entry.payload = ''
  return entry
}

function readableRows(rows: Buffer): Record<string, string> {
  try {
    return { events: JSON.stringify(decodeCopyRows(rows)) }
  } catch {
    return { rows_base64: rows.toString('base64') }
  }
}
