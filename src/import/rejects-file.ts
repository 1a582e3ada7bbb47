import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { type Stringifier, stringify } from 'csv-stringify'
import { describeErrors, type RejectedRow } from './validate-rows.ts'

/**
 * The side file of `--skip-invalid`: each rejected row with its original
 * fields under the original header, plus the line it started on and why it
 * was refused. It is written even when nothing is rejected, so that after a run
 * the file always describes that run, never an earlier one.
 */
export class RejectsFile {
  private readonly stringifier: Stringifier
  private readonly done: Promise<void>
  count = 0

  constructor(
    readonly path: string,
    private readonly header: readonly string[],
  ) {
    this.stringifier = stringify({ header: true, columns: [...header, 'line', 'error'] })
    // `wx` would refuse an old file; the rejects of the last run are what is wanted.
    this.done = pipeline(this.stringifier, createWriteStream(path))
    // Surfaced by close(); without a handler a write error would crash the process first.
    this.done.catch(() => {})
  }

  async write(rejects: readonly RejectedRow[]): Promise<void> {
    for (const { row, errors } of rejects) {
      // A row of the wrong width keeps its first fields under the header's names;
      // the error says how many it had.
      const fields = this.header.map((_, i) => row.fields[i] ?? '')
      this.count++
      // Back-pressure: a file of nothing but bad rows must not pile up in memory.
      if (!this.stringifier.write([...fields, String(row.line), describeErrors(errors)])) {
        await Promise.race([once(this.stringifier, 'drain'), this.done])
      }
    }
  }

  async close(): Promise<void> {
    this.stringifier.end()
    await this.done
  }
}
