import { type FieldError, ValidationError } from '../errors.ts'
import type { NormalizedEvent } from '../events/event-schema.ts'
import { type BatchLimits, validateBatch } from '../events/validate-batch.ts'
import type { ColumnIndex, CsvRow } from './csv-source.ts'

export interface RowError {
  /** the CSV column (or `record` for a row with the wrong number of fields) */
  field: string
  message: string
}

export interface RejectedRow {
  row: CsvRow
  errors: RowError[]
}

export interface ValidatedBatch {
  events: NormalizedEvent[]
  /** each event's properties as validation serialised them, for the store not to do it again */
  propertiesJson: string[]
  /** in file order */
  rejects: RejectedRow[]
}

/**
 * Turns CSV rows into events and checks them with the API's own validation
 * (validateBatch), so a file is held to exactly the rules of POST /events and
 * normalised the same way (lower-case ids, UTC timestamps).
 */
export function validateRows(
  rows: readonly CsvRow[],
  columns: ColumnIndex,
  limits: Omit<BatchLimits, 'maxBatchSize'>,
  now = Date.now(),
): ValidatedBatch {
  const width = Object.keys(columns).length
  const inputs: unknown[] = []
  const early = new Map<number, RowError[]>()
  rows.forEach((row, i) => {
    const { input, errors } = toEventInput(row, columns, width)
    inputs.push(input)
    if (errors.length > 0) early.set(i, errors)
  })
  const batchLimits = { ...limits, maxBatchSize: Math.max(1, rows.length) }
  if (early.size === 0) {
    // The common case: one call for the whole batch, as the API makes one per request.
    const propertiesJson: string[] = []
    try {
      return {
        events: validateBatch(inputs, batchLimits, now, propertiesJson),
        propertiesJson,
        rejects: [],
      }
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
    }
  }
  // Something is wrong: check row by row, so that every bad row is known with all
  // its errors (validateBatch stops listing after 100) and every good one is kept.
  const events: NormalizedEvent[] = []
  const propertiesJson: string[] = []
  const rejects: RejectedRow[] = []
  rows.forEach((row, i) => {
    const errors = [...(early.get(i) ?? [])]
    // A row with the wrong width has no reliable columns to check.
    if (errors.some((e) => e.field === 'record')) {
      rejects.push({ row, errors })
      return
    }
    try {
      const json: string[] = []
      const [event] = validateBatch([inputs[i]], { ...limits, maxBatchSize: 1 }, now, json)
      if (errors.length === 0) {
        events.push(event!)
        propertiesJson.push(json[0]!)
      }
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err
      for (const e of err.extra.errors ?? []) errors.push(toRowError(e))
    }
    if (errors.length > 0) rejects.push({ row, errors })
  })
  return { events, propertiesJson, rejects }
}

function toEventInput(
  row: CsvRow,
  columns: ColumnIndex,
  width: number,
): { input: Record<string, unknown>; errors: RowError[] } {
  const f = row.fields
  const errors: RowError[] = []
  if (f.length !== width) {
    errors.push({
      field: 'record',
      message: `has ${f.length} field${f.length === 1 ? '' : 's'}, expected ${width}`,
    })
  }
  const input: Record<string, unknown> = {
    event_id: f[columns.event_id] ?? '',
    occurred_at: f[columns.occurred_at] ?? '',
    user_id: f[columns.user_id] ?? '',
    event_type: f[columns.event_type] ?? '',
  }
  const json = f[columns.properties_json] ?? ''
  // Empty means "no properties", as an absent field does in the API.
  if (json !== '') {
    try {
      input.properties = JSON.parse(json)
    } catch (err) {
      errors.push({
        field: 'properties_json',
        message: `is not valid JSON (${(err as Error).message})`,
      })
    }
  }
  return { input, errors }
}

// The API names event fields; a CSV user knows the columns.
function toRowError(e: FieldError): RowError {
  return { field: e.field === 'properties' ? 'properties_json' : e.field, message: e.message }
}

export function describeErrors(errors: readonly RowError[]): string {
  return errors.map((e) => `${e.field} ${e.message}`).join('; ')
}
