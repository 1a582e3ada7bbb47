import type { NormalizedEvent, ProjectEvent } from '../events/event-schema.ts'
import type { QueueEntry } from '../queue/event-queue.ts'
import { CopyBatch } from '../store/copy-batch.ts'
import type { CopyData } from '../store/copy-insert.ts'

// A merged batch stays well inside what one CopyBatch holds (2^20 rows), and
// its memory bounded, however large the entries and WORKER_READ_COUNT are.
const MAX_MERGED_EVENTS = 200_000

export interface ParsedEntry {
  entry: QueueEntry
  /** a JSON entry's events; an entry of COPY rows is decoded only if it is retried alone */
  events?: ProjectEvent[]
}

export interface MergedEntries {
  /** the entries that could be read, in order */
  parsed: ParsedEntry[]
  unreadable: Array<{ entry: QueueEntry; error: unknown }>
  /** every COPY-rows entry's rows as one COPY, in (id, project) order, the first version of each */
  copy: CopyData | undefined
  /** every JSON entry's events */
  json: ProjectEvent[]
  events: number
}

/** Consecutive runs of entries, each holding at most MAX_MERGED_EVENTS events (or one entry). */
export function mergeGroups(entries: readonly QueueEntry[]): QueueEntry[][] {
  const groups: QueueEntry[][] = []
  let events = Infinity
  for (const entry of entries) {
    if (events + entry.count > MAX_MERGED_EVENTS) {
      groups.push([])
      events = 0
    }
    groups[groups.length - 1]!.push(entry)
    events += entry.count
  }
  return groups
}

/**
 * The entries' COPY rows are merged as bytes, never parsed; JSON entries
 * (written before rows, or by hand) are parsed, for the INSERT. An entry that
 * cannot be read is left out, so it cannot fail the others.
 */
export function mergeEntries(entries: readonly QueueEntry[]): MergedEntries {
  const parsed: ParsedEntry[] = []
  const unreadable: MergedEntries['unreadable'] = []
  const rows = new CopyBatch()
  const json: ProjectEvent[] = []
  for (const entry of entries) {
    try {
      if (entry.rows) {
        rows.addRows(entry.rows, entry.count)
        parsed.push({ entry })
      } else {
        const events = parsePayload(entry.payload ?? '').map((e) => ({
          ...e,
          project_id: entry.project,
        }))
        for (const e of events) json.push(e)
        parsed.push({ entry, events })
      }
    } catch (error) {
      unreadable.push({ entry, error })
    }
  }
  return {
    parsed,
    unreadable,
    copy: rows.size > 0 ? rows.finish() : undefined,
    json,
    events: rows.size + json.length,
  }
}

function parsePayload(payload: string): NormalizedEvent[] {
  const events: unknown = JSON.parse(payload)
  if (!Array.isArray(events)) throw new Error('queue entry payload is not an array of events')
  for (const e of events) {
    if (
      e === null ||
      typeof e !== 'object' ||
      typeof (e as NormalizedEvent).event_id !== 'string'
    ) {
      throw new Error('queue entry payload holds a malformed event')
    }
  }
  return events as NormalizedEvent[]
}
