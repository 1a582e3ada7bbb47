import { stat } from 'node:fs/promises'
import type { NormalizedEvent } from '../events/event-schema.ts'
import type { BatchLimits } from '../events/validate-batch.ts'
import { CsvFileError, type CsvSource, openCsv } from './csv-source.ts'
import type { Progress } from './progress.ts'
import { RejectsFile } from './rejects-file.ts'
import { type RejectedRow, type RowError, validateRows } from './validate-rows.ts'

export interface ImportOptions {
  file: string
  /** rows validated and inserted together */
  batchSize: number
  /** load the good rows and write the bad ones to `rejectsPath`, instead of stopping at the first */
  skipInvalid: boolean
  rejectsPath: string
  limits: Omit<BatchLimits, 'maxBatchSize'>
  progress?: Progress
  /** aborted (Ctrl-C): stop after the batch being inserted has committed */
  signal?: AbortSignal
  /**
   * the project's suppressed user ids (a deletion, migration 008) when the
   * import began: their rows are left out and counted; the writer's insert
   * still checks the suppressions of the moment (their rows count as duplicates)
   */
  suppressed?: ReadonlySet<string>
}

export interface ImportSummary {
  file: string
  /** data rows read (blank lines and the header are not rows) */
  read: number
  inserted: number
  /** valid rows that were already stored, or repeated earlier in the file */
  duplicates: number
  /** valid rows of a deleted user (suppressed): not stored */
  suppressed: number
  rejected: number
  seconds: number
  rows_per_second: number
  rejects_file?: string
  /** why the import stopped before the end of the file */
  stopped?: { line: number; field?: string; message: string }
  interrupted?: boolean
}

/** Where the rows go: the event store, or a bulk loader with the same contract. */
export interface ImportTarget {
  /** like EventStore.insert; `propertiesJson[i]` is `events[i].properties` serialised, when the loader can use it */
  insert(events: readonly NormalizedEvent[], propertiesJson?: readonly string[]): Promise<number>
  /** a batch that keeps what is added in a form of its own (COPY text), so the events need not stay in memory */
  newBatch?(): ImportBatch
}

export interface ImportBatch {
  /** events added */
  readonly size: number
  add(events: readonly NormalizedEvent[], propertiesJson: readonly string[]): void
  /** inserts the batch like ImportTarget.insert: how many events were new */
  store(): Promise<number>
}

// Rows read and validated at a time within a batch. Each chunk's events go
// into the batch (as COPY text, on PostgreSQL) and are dropped: a whole batch
// of live row objects made the garbage collector copy them over and over,
// which cost more CPU than validating them.
const CHUNK_ROWS = 1000

type Outcome = { inserted: number } | { error: unknown }

/**
 * Streams a CSV file into the event store in batches. Each batch is validated
 * in full before any of it is inserted, and while one batch is being inserted
 * the next is read and validated, so the database and the parser work at the
 * same time with at most two batches in memory.
 */
export async function importCsv(
  store: ImportTarget,
  options: ImportOptions,
): Promise<ImportSummary> {
  const started = performance.now()
  const totalBytes = (await stat(options.file)).size
  let read = 0,
    submitted = 0,
    inserted = 0,
    rejected = 0,
    suppressed = 0
  let stopped: ImportSummary['stopped']
  let source: CsvSource | undefined
  let rejects: RejectsFile | undefined
  let inFlight: Promise<Outcome> | undefined
  let interrupted = false
  const newBatch = () => store.newBatch?.() ?? collectingBatch(store)

  // Waits for the batch in flight; a store error ends the import (re-running it is safe).
  const settle = async () => {
    if (!inFlight) return
    const outcome = await inFlight
    inFlight = undefined
    if ('error' in outcome) throw outcome.error
    inserted += outcome.inserted
  }

  const state = () => ({ rows: read, bytes: source?.bytesRead() ?? 0, totalBytes })
  try {
    // Room for the largest valid row (its properties, quoted and escaped) and then some.
    source = await openCsv(options.file, {
      maxRecordChars: Math.max(1 << 20, 4 * options.limits.maxPropertiesBytes),
    })
    if (options.skipInvalid) rejects = new RejectsFile(options.rejectsPath, source.header)
    for (let end = false; !end; ) {
      const batch = newBatch()
      const batchRejects: RejectedRow[] = []
      let batchRead = 0
      while (batchRead < options.batchSize) {
        const rows = await source.nextBatch(Math.min(CHUNK_ROWS, options.batchSize - batchRead))
        if (!rows) {
          end = true
          break
        }
        // Checked with a batch's first rows in hand, so that a Ctrl-C after the last batch is no interruption.
        if (batchRead === 0 && options.signal?.aborted) {
          interrupted = end = true
          break
        }
        batchRead += rows.length
        const checked = withoutSuppressed(
          validateRows(rows, source.columns, options.limits),
          options.suppressed,
        )
        suppressed += checked.suppressed
        for (const r of checked.rejects) batchRejects.push(r)
        // Without --skip-invalid a batch with a bad row is not stored: its rows are only counted.
        if (rejects || batchRejects.length === 0) batch.add(checked.events, checked.propertiesJson)
        // Rows already read are parsed without a pause, but the batch in flight
        // is written to PostgreSQL only when the event loop runs: let it, or
        // the database waits for its data while the next batch is parsed.
        if (inFlight) await new Promise(setImmediate)
      }
      if (batchRead === 0) break
      read += batchRead
      rejected += batchRejects.length
      if (batchRejects.length > 0) {
        if (!rejects) {
          const first = batchRejects[0]!
          stopped = {
            line: first.row.line,
            field: first.errors[0]!.field,
            message: describe(first.errors),
          }
          await settle()
          break
        }
        await rejects.write(batchRejects)
      }
      await settle()
      submitted += batch.size
      inFlight =
        batch.size === 0
          ? undefined
          : batch.store().then(
              (n) => ({ inserted: n }),
              (error: unknown) => ({ error }),
            )
      options.progress?.update(state())
    }
    await settle()
  } catch (err) {
    // A file that cannot be read past (bad header, broken quoting) stops the
    // import like a bad row does, after what was already sent has committed.
    if (!(err instanceof CsvFileError)) {
      await inFlight
      throw err
    }
    await settle()
    stopped = { line: err.line, message: err.message }
  } finally {
    source?.close()
    await rejects?.close()
  }
  // The file may have ended during the last batch: report it whole.
  options.progress?.finish(
    stopped || interrupted ? state() : { rows: read, bytes: totalBytes, totalBytes },
  )
  const seconds = (performance.now() - started) / 1000
  return {
    file: options.file,
    read,
    inserted,
    duplicates: submitted - inserted,
    suppressed,
    rejected,
    seconds: Math.round(seconds * 1000) / 1000,
    rows_per_second: seconds > 0 ? Math.round(read / seconds) : 0,
    ...(rejects ? { rejects_file: rejects.path } : {}),
    ...(stopped ? { stopped } : {}),
    ...(interrupted ? { interrupted: true } : {}),
  }
}

/** A batch for a target without batches of its own: the events, kept until stored. */
function collectingBatch(target: ImportTarget): ImportBatch {
  const events: NormalizedEvent[] = []
  const json: string[] = []
  return {
    get size() {
      return events.length
    },
    add(more, moreJson) {
      for (let i = 0; i < more.length; i++) {
        events.push(more[i]!)
        json.push(moreJson[i]!)
      }
    },
    store: () => target.insert(events, json),
  }
}

function describe(errors: readonly RowError[]): string {
  const [first, ...more] = errors
  return more.length === 0
    ? first!.message
    : `${first!.message} (and: ${more.map((e) => `${e.field} ${e.message}`).join('; ')})`
}

/** The validated rows without those of suppressed users, and how many those were. */
function withoutSuppressed<T extends { events: NormalizedEvent[]; propertiesJson: string[] }>(
  checked: T,
  ids: ReadonlySet<string> | undefined,
): T & { suppressed: number } {
  if (!ids || ids.size === 0) return { ...checked, suppressed: 0 }
  const keep = checked.events.flatMap((e, i) => (ids.has(e.user_id) ? [] : [i]))
  return {
    ...checked,
    events: keep.map((i) => checked.events[i]!),
    propertiesJson: keep.map((i) => checked.propertiesJson[i]!),
    suppressed: checked.events.length - keep.length,
  }
}
