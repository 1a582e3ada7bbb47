import { StringDecoder } from 'node:string_decoder'

/** The file breaks CSV's rules at the record being read. */
export class CsvSyntaxError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'CsvSyntaxError'
  }
}

/** Where the bytes come from: a FileHandle, or anything that reads like one. */
export interface ByteSource {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: null,
  ): Promise<{ bytesRead: number }>
}

const QUOTE = 0x22
const COMMA = 0x2c
const LF = 0x0a
const CR = 0x0d
// A record that is not complete in what has been read: read more, parse it again.
const MORE = -1

/**
 * RFC 4180 CSV, read from a file as it is asked for: comma-separated, fields
 * optionally in double quotes with quotes inside doubled, records ended by
 * CRLF or LF (a lone CR is data), a UTF-8 byte-order mark skipped. It reads
 * what csv-parse reads with the options the import used (a test holds the two
 * to the same records and the same refusals), at a fraction of the cost: it
 * works on the decoded text with indexOf and slices instead of byte by byte.
 */
export class CsvReader {
  private text = ''
  private pos = 0
  /** the physical line the next record starts on (the first is 1) */
  line = 1
  // Where the next CR and LF in the text are, found once and reused while
  // records pass below them, so counting a record's lines costs two compares.
  private nextCr = -1
  private nextLf = -1
  // The same for the ends of unquoted fields, apart: these are looked up from
  // positions inside records, past line breaks in quoted fields that the
  // counting above must still see.
  private fieldComma = -1
  private fieldLf = -1
  private fieldQuote = -1
  private eof = false
  private started = false
  private bytes = 0
  private readonly decoder = new StringDecoder('utf8')
  private readonly chunk: Buffer

  constructor(
    private readonly file: ByteSource,
    private readonly maxRecordChars: number,
    chunkBytes = 1 << 20,
  ) {
    this.chunk = Buffer.allocUnsafe(chunkBytes)
  }

  /** bytes read from the file so far */
  bytesRead(): number {
    return this.bytes
  }

  /**
   * Appends up to `max` records to `out`, each with the physical line it
   * starts on; fewer only at the end of the file. Reads the file only when the
   * text in hand runs out. On a syntax error, `line` is the broken record's.
   */
  async read(max: number, out: Array<{ line: number; fields: string[] }>): Promise<void> {
    let wanted = max
    while (wanted > 0) {
      if (this.pos >= this.text.length && this.eof) return
      const fields: string[] = []
      const end = this.pos >= this.text.length ? MORE : this.record(fields)
      if (end === MORE) {
        if (this.text.length - this.pos > this.maxRecordChars) throw this.tooLong()
        await this.fill()
        continue
      }
      if (end - this.pos > this.maxRecordChars) throw this.tooLong()
      out.push({ line: this.line, fields })
      this.line += this.linesIn(this.pos, end)
      this.pos = end
      wanted--
    }
  }

  /**
   * The physical lines the record in [start, end) spans: one, plus each line
   * break inside its fields (CRLF, LF or a lone CR), whichever field holds it.
   */
  private linesIn(start: number, end: number): number {
    const text = this.text
    // (>>> 0 makes "none", -1, larger than any position.)
    if (this.nextLf < start) this.nextLf = text.indexOf('\n', start) >>> 0
    if (this.nextCr < start) this.nextCr = text.indexOf('\r', start) >>> 0
    const endsWithLf = text.charCodeAt(end - 1) === LF
    // The usual record: no line break but the LF or CRLF that ends it.
    const lastLf = endsWithLf ? end - 1 : end
    const lastCr = endsWithLf && text.charCodeAt(end - 2) === CR ? end - 2 : end
    if (this.nextLf >= lastLf && this.nextCr >= lastCr) return 1
    let breaks = 0
    for (let i = start; i < end; i++) {
      const c = text.charCodeAt(i)
      if (c === LF) breaks++
      else if (c === CR) {
        breaks++
        if (i + 1 < end && text.charCodeAt(i + 1) === LF) i++
      }
    }
    // The line break that ends the record is not inside it.
    return 1 + breaks - (endsWithLf ? 1 : 0)
  }

  private tooLong(): CsvSyntaxError {
    return new CsvSyntaxError(
      `the record is longer than ${this.maxRecordChars} characters (is a quote not closed?)`,
    )
  }

  /** Reads the next chunk of the file onto what is left of the text. */
  private async fill(): Promise<void> {
    const { bytesRead } = await this.file.read(this.chunk, 0, this.chunk.length, null)
    this.bytes += bytesRead
    let more =
      bytesRead > 0 ? this.decoder.write(this.chunk.subarray(0, bytesRead)) : this.decoder.end()
    if (bytesRead === 0) this.eof = true
    if (!this.started && (more.length > 0 || this.eof)) {
      this.started = true
      if (more.charCodeAt(0) === 0xfeff) more = more.slice(1)
    }
    this.text = this.text.slice(this.pos) + more
    this.pos = 0
    this.nextCr = this.nextLf = this.fieldComma = this.fieldLf = this.fieldQuote = -1
  }

  /**
   * Parses the record at `pos` into `fields`: the position after it (past its
   * line break), or MORE when the text ends inside it before the end of the file.
   */
  private record(fields: string[]): number {
    const text = this.text
    const n = text.length
    let i = this.pos
    for (;;) {
      if (i < n && text.charCodeAt(i) === QUOTE) {
        const start = i + 1
        let from = start
        let doubled = false
        let close: number
        for (;;) {
          close = text.indexOf('"', from)
          if (close === -1 || (close + 1 === n && !this.eof)) {
            if (!this.eof) return MORE
            throw new CsvSyntaxError('a quoted field is not closed before the end of the file')
          }
          if (text.charCodeAt(close + 1) !== QUOTE) break
          doubled = true
          from = close + 2
        }
        const raw = text.slice(start, close)
        fields.push(doubled ? raw.replaceAll('""', '"') : raw)
        i = close + 1
        if (i === n) return this.eof ? i : MORE
        const c = text.charCodeAt(i)
        if (c === COMMA) {
          i++
          continue
        }
        if (c === LF) return i + 1
        if (c === CR) {
          if (i + 1 === n && !this.eof) return MORE
          if (text.charCodeAt(i + 1) === LF) return i + 2
        }
        throw new CsvSyntaxError(
          `a closing quote must be followed by a comma or the end of the line, got ${JSON.stringify(text[i])}`,
        )
      }
      // The field ends at the next comma or LF, whichever comes first; a quote before that is an error.
      if (this.fieldComma < i) this.fieldComma = text.indexOf(',', i) >>> 0
      if (this.fieldLf < i) this.fieldLf = text.indexOf('\n', i) >>> 0
      if (this.fieldQuote < i) this.fieldQuote = text.indexOf('"', i) >>> 0
      const j = Math.min(this.fieldComma, this.fieldLf, n)
      if (this.fieldQuote < j) {
        throw new CsvSyntaxError(
          `a quote inside field ${fields.length + 1}, which does not start with one: quote the whole field and double the quotes inside it`,
        )
      }
      if (j === n) {
        if (!this.eof) return MORE
        fields.push(text.slice(i, j))
        return j
      }
      if (j === this.fieldComma) {
        fields.push(text.slice(i, j))
        i = j + 1
        continue
      }
      // LF, or CRLF: the CR belongs to the line break, not the field.
      fields.push(text.slice(i, j > i && text.charCodeAt(j - 1) === CR ? j - 1 : j))
      return j + 1
    }
  }
}
