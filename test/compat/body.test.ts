import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import LZString from 'lz-string'
import { type BodyLimits, decodeBody } from '../../src/compat/body.ts'
import { lz64Length } from '../../src/compat/lz64.ts'

const LIMITS: BodyLimits = { maxBytes: 500 * 1024, tooLargeStatus: 400 }
const value = {
  batch: [{ type: 'track', event: 'signup', userId: 'u-1', properties: { a: 'é+/=' } }],
}
const json = JSON.stringify(value)
const b64 = (text: string | Buffer) => Buffer.from(text).toString('base64')

async function refusal(promise: Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await promise
  } catch (err) {
    const e = err as { statusCode: number; code: string; message: string }
    return { status: e.statusCode, code: e.code, detail: e.message }
  }
  assert.fail('expected a refusal')
}

describe('decodeBody: the body is judged by its content, whatever the headers say', () => {
  test('every form an SDK sends decodes to the same value', async () => {
    const lz = LZString.compressToBase64(json)
    const forms: Array<[string, Buffer, { compression?: string; contentEncoding?: string }?]> = [
      ['JSON', Buffer.from(json)],
      ['JSON with a byte-order mark and leading space', Buffer.from(`\ufeff \n${json}`)],
      ['gzip', gzipSync(json)],
      ['gzip labelled gzip', gzipSync(json), { contentEncoding: 'gzip' }],
      ['JSON labelled gzip', Buffer.from(json), { contentEncoding: 'gzip' }],
      ['gzip-js', gzipSync(json), { compression: 'gzip-js' }],
      ['form, data=base64', Buffer.from(`data=${encodeURIComponent(b64(json))}`)],
      ['form, data=base64 with an unescaped +', Buffer.from(`data=${b64(json)}`)],
      ['form, data=JSON', Buffer.from(`data=${encodeURIComponent(json)}&ver=1.0`)],
      ['form, data=base64 of gzip', Buffer.from(`data=${encodeURIComponent(b64(gzipSync(json)))}`)],
      [
        'form, data=lz64, compression in the query',
        Buffer.from(`data=${encodeURIComponent(lz)}`),
        { compression: 'lz64' },
      ],
      [
        'form, data=lz64, compression in the form',
        Buffer.from(`compression=lz64&data=${encodeURIComponent(lz)}`),
      ],
      ['form, data=lz64, no label at all', Buffer.from(`data=${encodeURIComponent(lz)}`)],
      ['bare lz64', Buffer.from(lz), { compression: 'lz64' }],
      ['bare base64', Buffer.from(b64(json))],
      ['gzip of a form', gzipSync(`data=${encodeURIComponent(b64(json))}`)],
    ]
    for (const [name, body, hints] of forms)
      assert.deepEqual(await decodeBody(body, LIMITS, hints), value, name)
  })

  test('what is none of those is a 400 that says so', async () => {
    assert.deepEqual(await refusal(decodeBody(Buffer.from(''), LIMITS)), {
      status: 400,
      code: 'MALFORMED_BODY',
      detail: 'the body is empty',
    })
    assert.deepEqual(await refusal(decodeBody(Buffer.from('hello there'), LIMITS)), {
      status: 400,
      code: 'MALFORMED_BODY',
      detail:
        'the body is not JSON, nor gzip, base64 or lz64 of it (nor a form with one of those as data=)',
    })
    assert.deepEqual(await refusal(decodeBody(Buffer.from('{"batch": ['), LIMITS)), {
      status: 400,
      code: 'MALFORMED_BODY',
      detail: `the body is not valid JSON: ${jsonError('{"batch": [')}`,
    })
    assert.deepEqual(await refusal(decodeBody(Buffer.from('ver=1&ip=1'), LIMITS)), {
      status: 400,
      code: 'MALFORMED_BODY',
      detail: 'a form body must hold the events as data=',
    })
    const truncated = gzipSync(json).subarray(0, 20)
    assert.deepEqual(await refusal(decodeBody(truncated, LIMITS)), {
      status: 400,
      code: 'MALFORMED_BODY',
      detail: 'the body starts as gzip but is not valid gzip',
    })
    // A coding this service does not read, on a body that is not JSON: 415 names it.
    assert.deepEqual(
      await refusal(decodeBody(Buffer.from([0x0b, 0x02, 0x80]), LIMITS, { contentEncoding: 'br' })),
      {
        status: 415,
        code: 'UNSUPPORTED_CONTENT_ENCODING',
        detail: 'Content-Encoding br is not supported: send gzip or an uncompressed body',
      },
    )
  })

  test("limits hold after decoding, in the source's own status, and a bomb is cut off early", async () => {
    const small: BodyLimits = { maxBytes: 2 * 1024 * 1024, tooLargeStatus: 413 }
    const big = JSON.stringify({
      batch: [{ event: 'x', properties: { pad: 'x'.repeat(2 * 1024 * 1024) } }],
    })
    assert.deepEqual(await refusal(decodeBody(Buffer.from(big), small)), {
      status: 413,
      code: 'REQUEST_TOO_LARGE',
      detail: `the decoded body is over 2097152 bytes (${Buffer.byteLength(big)} bytes)`,
    })
    // 2 MiB of "x" gzips to about 2 KiB: past 1 MiB a body may inflate at most 100 times.
    const bomb = gzipSync(big)
    assert.deepEqual(
      await refusal(decodeBody(bomb, { maxBytes: 100 * 1024 * 1024, tooLargeStatus: 413 })),
      {
        status: 413,
        code: 'REQUEST_TOO_LARGE',
        detail: `the body inflates more than 100 times (${bomb.length} bytes on the wire, more than 1048576 bytes decoded)`,
      },
    )
    // Under the floor the ratio does not apply: Segment's 500 KB of repetitive JSON still decodes.
    const repetitive = JSON.stringify({
      batch: Array.from({ length: 2000 }, () => ({ type: 'track', event: 'x', userId: 'u' })),
    })
    assert.equal(
      ((await decodeBody(gzipSync(repetitive), LIMITS)) as { batch: unknown[] }).batch.length,
      2000,
    )
    const over = JSON.stringify({ batch: [{ pad: 'y'.repeat(500 * 1024) }] })
    assert.deepEqual(await refusal(decodeBody(gzipSync(over), LIMITS)), {
      status: 400,
      code: 'REQUEST_TOO_LARGE',
      detail: 'the decoded body is over 512000 bytes (more than 512000 bytes)',
    })
  })

  test('an lz64 body that would inflate past the limit is refused before the decoder builds it', async () => {
    const text = `[${JSON.stringify({ event: 'x', properties: { pad: 'z'.repeat(1_100_000) } })}]`
    const lz = LZString.compressToBase64(text)
    const started = Date.now()
    assert.deepEqual(
      await refusal(
        decodeBody(
          Buffer.from(`data=${encodeURIComponent(lz)}`),
          { maxBytes: 1024 * 1024, tooLargeStatus: 413 },
          { compression: 'lz64' },
        ),
      ),
      {
        status: 413,
        code: 'REQUEST_TOO_LARGE',
        detail: 'the decoded body is over 1048576 bytes (more than 1048576 characters)',
      },
    )
    assert.ok(Date.now() - started < 5_000)
  })
})

describe("lz64Length walks lz-string's codes exactly", () => {
  test('it is the length LZString.decompressFromBase64 returns, for any text', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string({ unit: 'grapheme' }),
          fc.string({ unit: 'binary' }),
          fc
            .array(fc.constantFrom('a', 'ab', '{"x":1}'), { maxLength: 300 })
            .map((a) => a.join('')),
        ),
        (text) => {
          const lz = LZString.compressToBase64(text)
          const expected = LZString.decompressFromBase64(lz)
          const length = lz64Length(lz, Number.MAX_SAFE_INTEGER)
          assert.equal(length ?? 0, expected ? expected.length : 0)
        },
      ),
      { numRuns: 500 },
    )
  })

  test('on arbitrary input, a length it gives is the length lz-string decodes', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/=]{1,60}$/), (input) => {
        // Where it finds codes, lz-string decodes them to exactly that many characters.
        const length = lz64Length(input, Number.MAX_SAFE_INTEGER)
        if (length !== undefined)
          assert.equal(LZString.decompressFromBase64(input).length, length, input)
      }),
      { numRuns: 2000 },
    )
  })

  test('it stops counting past the bound', () => {
    const lz = LZString.compressToBase64('a'.repeat(10_000))
    assert.equal(lz64Length(lz, 100), 101)
    assert.equal(lz64Length(lz, 10_000), 10_000)
  })
})

function jsonError(text: string): string {
  try {
    JSON.parse(text)
  } catch (err) {
    return (err as Error).message
  }
  return ''
}
