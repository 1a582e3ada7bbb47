import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parse } from 'csv-parse/sync'
import fc from 'fast-check'
import { type ByteSource, CsvReader, CsvSyntaxError } from '../../src/import/csv-reader.ts'

// The import reads CSV with its own reader for speed; it must read exactly
// what csv-parse reads with the options the import used before, and refuse
// exactly what csv-parse refuses, whatever the chunk boundaries.
const CSV_PARSE_OPTIONS = { bom: true, record_delimiter: ['\r\n', '\n'], relax_column_count: true }

function source(bytes: Buffer): ByteSource {
  let at = 0
  return {
    async read(buffer, offset, length) {
      const n = Math.min(length, bytes.length - at)
      bytes.copy(buffer, offset, at, at + n)
      at += n
      return { bytesRead: n }
    },
  }
}

type Records = Array<{ line: number; fields: string[] }>

async function readAll(
  text: string,
  chunkBytes: number,
  batch: number,
): Promise<Records | 'refused'> {
  const reader = new CsvReader(source(Buffer.from(text)), 1 << 20, chunkBytes)
  const out: Records = []
  try {
    for (;;) {
      const before = out.length
      await reader.read(batch, out)
      if (out.length - before < batch) return out
    }
  } catch (err) {
    if (err instanceof CsvSyntaxError) return 'refused'
    throw err
  }
}

/** csv-parse's records, numbered as the import numbered them: each spans one line plus the line breaks in its fields. */
function csvParse(text: string): Records | 'refused' {
  let records: string[][]
  try {
    records = parse(text, CSV_PARSE_OPTIONS) as string[][]
  } catch {
    return 'refused'
  }
  let line = 1
  return records.map((fields) => {
    const record = { line, fields }
    line += 1 + fields.reduce((n, f) => n + (f.match(/\r\n|\r|\n/g)?.length ?? 0), 0)
    return record
  })
}

// Every character that means something to CSV, some that do not, and multi-byte ones split across chunks.
const unit = fc.constantFrom(
  'a',
  'b',
  ',',
  ',',
  '"',
  '"',
  '\n',
  '\r',
  '\r\n',
  ' ',
  'é',
  '😀',
  '\uFEFF',
)
// Mostly well-formed files (fields quoted properly), so that both sides get past the first record.
const field = fc.oneof(
  fc.string({ unit: fc.constantFrom('a', 'x', ' ', 'é', '\r'), maxLength: 4 }),
  fc.string({ unit, maxLength: 6 }).map((s) => `"${s.replaceAll('"', '""')}"`),
)
const wellFormed = fc
  .tuple(
    fc.array(fc.array(field, { minLength: 1, maxLength: 4 }), { maxLength: 6 }),
    fc.constantFrom('\n', '\r\n'),
    fc.boolean(),
    fc.boolean(),
  )
  .map(
    ([records, eol, bom, last]) =>
      (bom ? '\uFEFF' : '') + records.map((r) => r.join(',')).join(eol) + (last ? eol : ''),
  )

describe('CsvReader reads what csv-parse reads, on the same lines', () => {
  test('mostly well-formed files: the same records', async () => {
    await fc.assert(
      fc.asyncProperty(
        wellFormed,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 4 }),
        async (text, chunk, batch) => {
          assert.deepEqual(await readAll(text, chunk, batch), csvParse(text))
        },
      ),
      { numRuns: 3000 },
    )
  })

  test("any mix of CSV's special characters: the same records, or both refuse", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.string({ unit, maxLength: 30 }),
        fc.integer({ min: 1, max: 9 }),
        async (text, chunk) => {
          assert.deepEqual(await readAll(text, chunk, 3), csvParse(text))
        },
      ),
      { numRuns: 5000 },
    )
  })

  test('a record longer than the limit is refused, however it is split', async () => {
    const reader = new CsvReader(source(Buffer.from(`a,"${'x'.repeat(100)}\nb\n`)), 50, 16)
    await assert.rejects(reader.read(10, []), /longer than 50 characters/)
  })
})
