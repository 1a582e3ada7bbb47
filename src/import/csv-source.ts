import { open } from 'node:fs/promises'
import { CsvReader, CsvSyntaxError } from './csv-reader.ts'

/** The columns an import file holds, in any order, with a header row naming them. */
export const CSV_COLUMNS = [
  'event_id',
  'occurred_at',
  'user_id',
  'event_type',
  'properties_json',
] as const
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
  constructor(
    readonly line: number,
    message: string,
  ) {
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
  /** bytes of the file read so far (at most one chunk ahead of the rows taken), for progress */
  bytesRead(): number
}

/**
 * Opens a CSV file and checks its header. The file is streamed: it is read
 * only as rows are taken, so a slow store holds the file back instead of
 * filling memory.
 */
export async function openCsv(
  path: string,
  options: { maxRecordChars: number },
): Promise<CsvSource> {
  const file = await open(path, 'r')
  // An unclosed quote would otherwise read the rest of the file, however
  // large, into one field: past this size it is a broken record instead.
  const reader = new CsvReader(file, options.maxRecordChars)
  let closed = false
  const close = () => {
    if (closed) return
    closed = true
    void file.close().catch(() => {})
  }

  const nextBatch = async (max: number): Promise<CsvRow[] | undefined> => {
    const batch: CsvRow[] = []
    while (batch.length < max) {
      const wanted = max - batch.length
      const records: CsvRow[] = []
      try {
        await reader.read(wanted, records)
      } catch (err) {
        // Anything but a syntax error (a read error) is not the data's fault.
        if (!(err instanceof CsvSyntaxError)) throw err
        throw new CsvFileError(
          reader.line,
          `malformed CSV in the record starting on this line: ${err.message}`,
        )
      }
      for (const row of records) {
        // A blank line reads as one empty field: skip it (its line is counted).
        if (row.fields.length === 1 && row.fields[0] === '') continue
        batch.push(row)
      }
      if (records.length < wanted) break
    }
    return batch.length > 0 ? batch : undefined
  }

  let header: string[]
  let columns: ColumnIndex
  try {
    const first = await nextBatch(1)
    if (!first) throw new CsvFileError(1, 'the file is empty: expected a header row')
    header = first[0]!.fields
    columns = columnIndex(header)
  } catch (err) {
    close()
    throw err
  }
  return { header, columns, nextBatch, close, bytesRead: () => reader.bytesRead() }
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
    throw new CsvFileError(
      1,
      `the header must name the columns ${CSV_COLUMNS.join(',')} (in any order): ${problems.join('; ')}`,
    )
  }
  return Object.fromEntries(CSV_COLUMNS.map((c) => [c, names.indexOf(c)])) as ColumnIndex
}
