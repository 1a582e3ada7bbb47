import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { finished } from 'node:stream/promises'
import type { BenchEvent } from './dataset.ts'

export const CSV_HEADER = 'event_id,occurred_at,user_id,event_type,properties_json'
// One row in this many has its user_id quoted though it need not be, as some
// exporters quote every text field: the parser's quoted path gets exercised too.
const QUOTE_EVERY = 10

/**
 * The data set as an import file, written the way spreadsheets export: the
 * properties JSON quoted with its quotes doubled. Written in chunks, so a
 * file larger than memory could be written too.
 */
export async function writeEventsCsv(path: string, events: readonly BenchEvent[]): Promise<number> {
  const out = createWriteStream(path)
  let chunk = `${CSV_HEADER}\n`
  let bytes = 0
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!
    const user = i % QUOTE_EVERY === 0 ? quote(e.user_id) : e.user_id
    chunk += `${e.event_id},${e.occurred_at},${user},${e.event_type},${quote(JSON.stringify(e.properties))}\n`
    if (chunk.length > 1 << 20) {
      bytes += Buffer.byteLength(chunk)
      if (!out.write(chunk)) await once(out, 'drain')
      chunk = ''
    }
  }
  bytes += Buffer.byteLength(chunk)
  out.end(chunk)
  await finished(out)
  return bytes
}

function quote(text: string): string {
  return `"${text.replaceAll('"', '""')}"`
}
