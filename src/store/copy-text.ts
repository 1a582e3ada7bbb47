import type { NormalizedEvent } from '../events/event-schema.ts'

// COPY text format: a line per row, tab between columns, and backslash, tab,
// newline and carriage return escaped inside values.
const TAB = 0x09
const NEWLINE = 0x0a
const COPY_SPECIAL = /[\\\t\n\r]/
const COPY_SPECIAL_ALL = /[\\\t\n\r]/g
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }
const ID_BYTES = 36
const INDEX_BITS = 2 ** 20

function copyEscape(value: string): string {
  return COPY_SPECIAL.test(value) ? value.replace(COPY_SPECIAL_ALL, (c) => COPY_ESCAPES[c]!) : value
}

// Buffer's own encoders, without write()'s argument checks, which cost ten
// times the encoding of these short strings. Present on every Node Buffer.
type WritableBuffer = Buffer & {
  latin1Write(text: string, offset: number): number
  utf8Write(text: string, offset: number): number
}

/**
 * A batch of events as COPY text for (event_id, occurred_at, user_id,
 * event_type, properties), written line by line as events are added, into one
 * buffer outside the JavaScript heap: the events themselves can be dropped at
 * once, so an import holds a batch as bytes, not as objects the garbage
 * collector must copy again and again. finish() gives the first version of
 * each id, in id order (the lock order of every writer; a btree filled in key
 * order also touches fewer pages).
 */
export class CopyBatch {
  private buf = Buffer.allocUnsafe(1 << 16) as WritableBuffer
  private at = 0
  private starts: number[] = []
  // Lower-case canonical UUIDs sort as text exactly as PostgreSQL sorts them as
  // uuid, and their first 8 hex digits as a number sort the same way: a numeric
  // sort on those (with the line's index in the low bits) is five times faster
  // than comparing strings, which are compared only where those digits are equal.
  private keys: number[] = []

  get size(): number {
    return this.starts.length
  }

  /** `propertiesJson[i]`, when given, is events[i].properties serialised. */
  add(events: readonly NormalizedEvent[], propertiesJson?: readonly string[]): void {
    for (let i = 0; i < events.length; i++) this.addOne(events[i]!, propertiesJson?.[i] ?? JSON.stringify(events[i]!.properties))
  }

  private addOne(e: NormalizedEvent, json: string): void {
    const user = copyEscape(e.user_id)
    const type = copyEscape(e.event_type)
    const props = copyEscape(json)
    // UTF-8 takes at most 3 bytes per UTF-16 code unit; the id and time are ASCII.
    const most = e.event_id.length + e.occurred_at.length + 3 * (user.length + type.length + props.length) + 5
    if (this.at + most > this.buf.length) {
      const bigger = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.at + most)) as WritableBuffer
      this.buf.copy(bigger, 0, 0, this.at)
      this.buf = bigger
    }
    const buf = this.buf
    let at = this.at
    this.keys.push(parseInt(e.event_id.slice(0, 8), 16) * INDEX_BITS + this.starts.length)
    this.starts.push(at)
    at += buf.latin1Write(e.event_id, at)
    buf[at++] = TAB
    at += buf.latin1Write(e.occurred_at, at)
    buf[at++] = TAB
    at += buf.utf8Write(user, at)
    buf[at++] = TAB
    at += buf.utf8Write(type, at)
    buf[at++] = TAB
    at += buf.utf8Write(props, at)
    buf[at++] = NEWLINE
    this.at = at
  }

  /** The lines of the first version of each id, in id order, and how many there are. */
  finish(): { data: Buffer; rows: number } {
    const n = this.starts.length
    if (n >= INDEX_BITS) throw new Error(`a COPY batch holds at most ${INDEX_BITS - 1} rows`)
    const keys = Float64Array.from(this.keys).sort()
    const out = Buffer.allocUnsafe(this.at)
    let at = 0
    let rows = 0
    const copyLine = (i: number) => {
      const end = i + 1 < n ? this.starts[i + 1]! : this.at
      at += this.buf.copy(out, at, this.starts[i]!, end)
      rows++
    }
    for (let start = 0; start < n;) {
      const prefix = Math.floor(keys[start]! / INDEX_BITS)
      let end = start + 1
      while (end < n && Math.floor(keys[end]! / INDEX_BITS) === prefix) end++
      if (end === start + 1) {
        copyLine(keys[start]! - prefix * INDEX_BITS)
      } else {
        const run: number[] = []
        for (let k = start; k < end; k++) run.push(keys[k]! - prefix * INDEX_BITS)
        // Stable, and the run is in index order: of equal ids the first version comes first.
        run.sort((a, b) => this.compareIds(a, b))
        for (let k = 0; k < run.length; k++) if (k === 0 || this.compareIds(run[k - 1]!, run[k]!) !== 0) copyLine(run[k]!)
      }
      start = end
    }
    return { data: out.subarray(0, at), rows }
  }

  private compareIds(a: number, b: number): number {
    const sa = this.starts[a]!
    const sb = this.starts[b]!
    return this.buf.compare(this.buf, sb, sb + ID_BYTES, sa, sa + ID_BYTES)
  }
}

/** A whole batch of events at once as COPY text, as CopyBatch gives it. */
export function copyText(events: readonly NormalizedEvent[], propertiesJson?: readonly string[]): { data: Buffer; rows: number } {
  const batch = new CopyBatch()
  batch.add(events, propertiesJson)
  return batch.finish()
}
