import { createReadStream } from 'node:fs'
import { CsvError, Parser } from 'csv-parse'

/** The columns an import file holds, in any order, with a header row naming them. */
export const CSV_COLUMNS = ['event_id', 'occurred_at', 'user_id', 'event_type', 'properties_json'] as const
export type CsvColumn = (typeof CSV_COLUMNS)[number]

export interface CsvRow {
  /** the physical line the record starts on, the header being line 1 */
  line: number
  /** the fields as read, in the file's column order */
  fields: string[]
}

/** Where each expected column sits in a record. */
export type ColumnIndex = Record<CsvColumn, number>

/** A problem with the file as a whole (header, quoting): it cannot be read past. */
export class CsvFileError extends Error {
  constructor(readonly line: number, message: string) {
    super(message)
    this.name = 'CsvFileError'
  }
}

export interface CsvSource {
  /** the header's names, as written */
  header: string[]
  columns: ColumnIndex
  /**
   * The next data rows, up to `max` (fewer only at the end of the file), or
   * undefined after the last. The file is read only as rows are asked for.
   */
  nextBatch(max: number): Promise<CsvRow[] | undefined>
  /** stops reading and releases the file */
  close(): void
  /** bytes of the file parsed so far, for progress */
  bytesRead(): number
}

/**
 * csv-parse's parser, numbering records by the physical line they start on as
 * it emits them: in file order, before any buffering, so the count is exact
 * even when it stops at a broken record with others still unread. (Its
 * on_record hook would do the same but builds a context object per record,
 * which doubled the parsing time.)
 */
class LineNumberingParser extends Parser {
  readonly lines = new LineTracker()

  override push(record: unknown): boolean {
    if (record === null) return super.push(null)
    const fields = record as string[]
    const line = this.lines.take(fields)
    // A blank line reads as one empty field: skip it, but count it.
    if (fields.length === 1 && fields[0] === '') return true
    return super.push({ line, fields } satisfies CsvRow)
  }
}

/**
 * Opens a CSV file and checks its header. The file is streamed: the parser only
 * reads on as rows are taken, so a slow store holds the file back instead of
 * filling memory.
 */
export async function openCsv(path: string, options: { maxRecordChars: number }): Promise<CsvSource> {
  const parser = new LineNumberingParser({
    // Spreadsheets write a UTF-8 byte-order mark; it must not become part of "event_id".
    bom: true,
    // Both endings, always: auto-detection would take the first one it meets and
    // then read a lone LF in a CRLF file as part of a field.
    record_delimiter: ['\r\n', '\n'],
    // A short or long row is a bad row (reported with its line), not the end of the import.
    relax_column_count: true,
    // An unclosed quote would otherwise read the rest of the file, however
    // large, into one field: past this size it is a broken record instead.
    max_record_size: options.maxRecordChars,
  })
  let failure: Error | undefined
  let ended = false
  parser.on('error', (err) => (failure ??= err)).on('end', () => (ended = true))
  createReadStream(path, { highWaterMark: 256 * 1024 })
    .on('error', (err) => parser.destroy(err))
    .pipe(parser)

  const fail = (err: Error): never => {
    // Anything but a CsvError (a read error) is not the data's fault.
    if (!(err instanceof CsvError)) throw err
    // csv-parse's own line numbers count a CRLF inside a quoted field twice; ours do not.
    throw new CsvFileError(parser.lines.next, `malformed CSV in the record starting on this line: ${err.message}`)
  }
  // Rows are taken synchronously while the parser has them buffered, and only
  // an empty buffer costs a wait: no promise per row.
  const nextBatch = async (max: number): Promise<CsvRow[] | undefined> => {
    const batch: CsvRow[] = []
    while (batch.length < max) {
      if (failure) fail(failure)
      const row = parser.read() as CsvRow | null
      if (row !== null) {
        batch.push(row)
        continue
      }
      if (ended) break
      if (parser.destroyed) {
        // Destroyed by an error (reported on the next tick) or by close().
        if (!parser.closed) await new Promise((resolve) => parser.once('close', resolve))
        break
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          parser.off('readable', wake).off('end', wake).off('error', wake)
          resolve()
        }
        parser.on('readable', wake).on('end', wake).on('error', wake)
      })
    }
    if (failure) fail(failure)
    return batch.length > 0 ? batch : undefined
  }

  const first = await nextBatch(1)
  if (!first) throw new CsvFileError(1, 'the file is empty: expected a header row')
  const header = first[0]!.fields
  let columns: ColumnIndex
  try {
    columns = columnIndex(header)
  } catch (err) {
    parser.destroy()
    throw err
  }
  return { header, columns, nextBatch, close: () => parser.destroy(), bytesRead: () => parser.info.bytes }
}

/**
 * Physical line numbers, counted from the records themselves: a record spans
 * one line plus every line break inside its quoted fields (CRLF, LF or CR).
 */
class LineTracker {
  next = 1

  take(fields: string[]): number {
    const line = this.next
    let breaks = 0
    for (const f of fields) if (f.includes('\n') || f.includes('\r')) breaks += countBreaks(f)
    this.next += 1 + breaks
    return line
  }
}

function countBreaks(text: string): number {
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 10) n++
    else if (c === 13) {
      n++
      if (text.charCodeAt(i + 1) === 10) i++
    }
  }
  return n
}

function columnIndex(header: string[]): ColumnIndex {
  const names = header.map((h) => h.trim().toLowerCase())
  const unknown = names.filter((n) => !(CSV_COLUMNS as readonly string[]).includes(n))
  const missing = CSV_COLUMNS.filter((c) => !names.includes(c))
  const repeated = names.filter((n, i) => names.indexOf(n) !== i)
  const problems = [
    missing.length > 0 ? `missing ${missing.join(', ')}` : '',
    unknown.length > 0 ? `unknown ${unknown.map((u) => JSON.stringify(u)).join(', ')}` : '',
    repeated.length > 0 ? `repeated ${repeated.join(', ')}` : '',
  ].filter(Boolean)
  if (problems.length > 0) {
    throw new CsvFileError(1, `the header must name the columns ${CSV_COLUMNS.join(',')} (in any order): ${problems.join('; ')}`)
  }
  return Object.fromEntries(CSV_COLUMNS.map((c) => [c, names.indexOf(c)])) as ColumnIndex
}
