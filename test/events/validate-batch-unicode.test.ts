import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import fc from 'fast-check'
import { ValidationError } from '../../src/errors.ts'
import { validateBatch } from '../../src/events/validate-batch.ts'

// validateBatch skips its lone-surrogate and NUL checks when a cheap
// pre-check shows they cannot match. The verdicts must be those of the checks
// run in full, as written before the pre-checks (the rules below).
const LONE_SURROGATE = /(?<!\\)(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/
const badText = (s: string) => s.includes('\u0000') || LONE_SURROGATE.test(JSON.stringify(s))
// An escaped NUL is \u0000 after an even run of backslashes; after an odd run
// it is the text \u0000 itself, which is storable.
const NUL_ESCAPE = /(?<!\\)(?:\\\\)*\\u0000/
const badJson = (s: string) => NUL_ESCAPE.test(s) || LONE_SURROGATE.test(s)

const limits = { maxBatchSize: 1, maxPropertiesBytes: 16384, maxFutureSkewMs: 86_400_000 }
// Lone surrogates, NUL, backslashes and text that looks like JSON escapes, mixed with plain text.
const unit = fc.oneof(
  fc.constantFrom(
    '\ud800',
    '\udfff',
    '\ud83d',
    '\ude00',
    '\u0000',
    '\\',
    'u',
    'd',
    '8',
    '0',
    'D',
    '"',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
)
const text = fc.string({ unit, minLength: 1, maxLength: 10 })

function fieldsRejected(event: object): string[] {
  try {
    validateBatch([event], limits, Date.parse('2026-11-28T00:00:00Z'))
    return []
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err
    return (err.extra.errors ?? []).map((e) => `${e.field} ${e.message}`)
  }
}

describe('validateBatch: Unicode and NUL checks', () => {
  test('reject exactly what the full checks reject, with the same messages', () => {
    fc.assert(
      fc.property(
        text,
        text,
        fc.dictionary(text, text, { maxKeys: 3 }),
        (user, type, properties) => {
          const expected = [
            ...(badText(user) ? ['user_id must be Unicode text without NUL characters'] : []),
            ...(badText(type) ? ['event_type must be Unicode text without NUL characters'] : []),
            ...(badJson(JSON.stringify(properties))
              ? ['properties must be Unicode text without NUL characters']
              : []),
          ]
          const event = {
            event_id: '00000000-0000-4000-8000-000000000001',
            occurred_at: '2026-11-01T00:00:00Z',
            user_id: user,
            event_type: type,
            properties,
          }
          assert.deepEqual(fieldsRejected(event), expected)
        },
      ),
      { numRuns: 3000 },
    )
  })
})
