import type { NormalizedEvent } from '../events/event-schema.ts'

// COPY text format: a line per row, tab between columns, and backslash, tab,
// newline and carriage return escaped inside values.
const TAB = 0x09
const NEWLINE = 0x0a
const COPY_SPECIAL = /[\\\t\n\r]/
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }

function copyEscape(value: string): string {
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]!) : value
}

/**
 * A batch as COPY text for (event_id, occurred_at, user_id, event_type,
 * properties): the first version of each id, sorted by id (the lock order of
 * every writer, and a btree filled in key order touches fewer pages).
 * `propertiesJson[i]`, when given, is events[i].properties serialised.
 *
 * Written straight into one buffer: building a string per line and joining
 * them cost more than validating the rows (the strings are ropes that have to
 * be flattened, then encoded again into bytes for the socket).
 */
export function copyText(events: readonly NormalizedEvent[], propertiesJson?: readonly string[]): { data: Buffer; rows: number } {
  const order = firstOfEachIdSorted(events)
  let buf = Buffer.allocUnsafe(256 * order.length + 1024) as WritableBuffer
  let at = 0
  for (const i of order) {
    const e = events[i]!
    const user = copyEscape(e.user_id)
    const type = copyEscape(e.event_type)
    const json = copyEscape(propertiesJson?.[i] ?? JSON.stringify(e.properties))
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; the id and time are ASCII.
    const most = e.event_id.length + e.occurred_at.length + 3 * (user.length + type.length + json.length) + 5
    if (at + most > buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * buf.length, at + most)) as WritableBuffer
      buf.copy(bigger, 0, 0, at)
      buf = bigger
    }
    at += buf.latin1Write(e.event_id, at)
    buf[at++] = TAB
    at += buf.latin1Write(e.occurred_at, at)
    buf[at++] = TAB
    at += buf.utf8Write(user, at)
    buf[at++] = TAB
    at += buf.utf8Write(type, at)
    buf[at++] = TAB
    at += buf.utf8Write(json, at)
    buf[at++] = NEWLINE
  }
  return { data: buf.subarray(0, at), rows: order.length }
}

// Buffer's own encoders, without write()'s argument checks, which cost ten
// times the encoding of these short strings. Present on every Node Buffer.
type WritableBuffer = Buffer & {
  latin1Write(text: string, offset: number): number
  utf8Write(text: string, offset: number): number
}

const INDEX_BITS = 2 ** 20

/**
 * Indexes of the first event with each id, in id order. Lower-case canonical
 * UUIDs sort as text exactly as PostgreSQL sorts them as uuid, and their first
 * 8 hex digits as a number sort the same way: a numeric sort on those (with
 * the index in the low bits) is five times faster than comparing strings, which
 * are then compared only where two ids share those digits.
 */
function firstOfEachIdSorted(events: readonly NormalizedEvent[]): number[] {
  if (events.length >= INDEX_BITS) return firstOfEachIdByText(events)
  const keys = new Float64Array(events.length)
  for (let i = 0; i < events.length; i++) keys[i] = parseInt(events[i]!.event_id.slice(0, 8), 16) * INDEX_BITS + i
  keys.sort()
  const order: number[] = []
  for (let start = 0; start < keys.length;) {
    const prefix = Math.floor(keys[start]! / INDEX_BITS)
    let end = start + 1
    while (end < keys.length && Math.floor(keys[end]! / INDEX_BITS) === prefix) end++
    if (end === start + 1) {
      order.push(keys[start]! - prefix * INDEX_BITS)
    } else {
      const run: number[] = []
      for (let k = start; k < end; k++) run.push(keys[k]! - prefix * INDEX_BITS)
      // Stable: of equal ids the earliest index (the first version) comes first.
      run.sort((a, b) => compareText(events[a]!.event_id, events[b]!.event_id))
      for (let k = 0; k < run.length; k++) {
        if (k === 0 || events[run[k]!]!.event_id !== events[run[k - 1]!]!.event_id) order.push(run[k]!)
      }
    }
    start = end
  }
  return order
}

function firstOfEachIdByText(events: readonly NormalizedEvent[]): number[] {
  const first = new Map<string, number>()
  for (let i = 0; i < events.length; i++) if (!first.has(events[i]!.event_id)) first.set(events[i]!.event_id, i)
  return [...first.keys()].sort().map((id) => first.get(id)!)
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
