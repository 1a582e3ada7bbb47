import { promisify } from 'node:util'
import { gunzip } from 'node:zlib'
import { AppError } from '../errors.ts'
import { decodeLz64 } from './lz64.ts'

const gunzipAsync = promisify(gunzip)

/**
 * SDK bodies are judged by what they are, not by what their headers say: the
 * RudderStack Node SDK sends gzip labelled application/x-www-form-urlencoded,
 * posthog-node gzips with or without saying so, browsers' beacons say
 * text/plain, and PostHog's browser client sends `data=` forms holding base64
 * or lz64. Each layer is recognised by its content: gzip by its magic bytes,
 * JSON by its first character, a form by `name=`, base64 and lz64 by decoding.
 */
export interface BodyLimits {
  /** the decoded JSON text, in bytes */
  maxBytes: number
  /** how the source says "too large": Segment 400 (its clients drop it), PostHog 413 (its clients halve the batch) */
  tooLargeStatus: 400 | 413
}

// A body past 1 MiB decoded may be at most this many times its size on the
// wire: a gzip bomb is cut off early instead of inflating to the limit.
const MAX_RATIO = 100
const RATIO_FLOOR = 1024 * 1024

const GZIP_MAGIC = [0x1f, 0x8b] as const
const FORM = /^[A-Za-z0-9_.$%-]*=/
const BASE64 = /^[A-Za-z0-9+/\s]*={0,2}\s*$/

export class BodyError extends AppError {}

const malformed = (detail: string) => new BodyError(400, 'MALFORMED_BODY', detail)

export function tooLarge(limits: BodyLimits, detail: string): AppError {
  return new BodyError(limits.tooLargeStatus, 'REQUEST_TOO_LARGE', detail)
}

/** The JSON value a raw SDK body holds; a 400 (or the source's too-large status) saying why not. */
export async function decodeBody(
  raw: Buffer,
  limits: BodyLimits,
  hints: { compression?: string; contentEncoding?: string } = {},
): Promise<unknown> {
  if (raw.length === 0) throw malformed('the body is empty')
  // What the decoded text may be: the limit, and past the floor, MAX_RATIO times the wire size.
  const max = Math.min(limits.maxBytes, Math.max(RATIO_FLOOR, raw.length * MAX_RATIO))
  const over = (size: string) =>
    max < limits.maxBytes
      ? tooLarge(
          limits,
          `the body inflates more than ${MAX_RATIO} times (${raw.length} bytes on the wire, ${size} decoded)`,
        )
      : tooLarge(limits, `the decoded body is over ${limits.maxBytes} bytes (${size})`)
  const text = await textOf(raw, max, over)
  const declared = hints.contentEncoding?.trim().toLowerCase()
  const unknownCoding =
    declared && !['gzip', 'x-gzip', 'identity'].includes(declared) ? declared : undefined
  try {
    return await jsonOf(text, hints.compression?.toLowerCase(), max, over)
  } catch (err) {
    if (err instanceof BodyError && err.statusCode === 400 && unknownCoding)
      throw new BodyError(
        415,
        'UNSUPPORTED_CONTENT_ENCODING',
        `Content-Encoding ${unknownCoding} is not supported: send gzip or an uncompressed body`,
        { headers: { 'accept-encoding': 'gzip, identity' } },
      )
    throw err
  }
}

/** The body as text, gunzipped first when it is gzip. */
async function textOf(
  bytes: Buffer,
  max: number,
  over: (size: string) => AppError,
): Promise<string> {
  let out = bytes
  if (isGzip(bytes)) out = await inflate(bytes, max, over)
  else if (bytes.length > max) throw over(`${bytes.length} bytes`)
  // A byte-order mark is not part of the JSON.
  const start = out[0] === 0xef && out[1] === 0xbb && out[2] === 0xbf ? 3 : 0
  return out.toString('utf8', start)
}

const isGzip = (bytes: Buffer) => bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]

async function inflate(bytes: Buffer, max: number, over: (size: string) => AppError) {
  try {
    // zlib stops at maxOutputLength (off the event loop): nothing past the limit is ever built.
    return await gunzipAsync(bytes, { maxOutputLength: max })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE')
      throw over(`more than ${max} bytes`)
    throw malformed('the body starts as gzip but is not valid gzip')
  }
}

async function jsonOf(
  text: string,
  compression: string | undefined,
  max: number,
  over: (size: string) => AppError,
): Promise<unknown> {
  const trimmed = text.trimStart()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseJson(text)
  // Bare base64 can look like a form (letters, then "=" padding): a form is one with data=.
  const form = FORM.test(trimmed) ? new URLSearchParams(trimmed) : undefined
  const data = form?.get('data')
  if (form && typeof data === 'string')
    return payloadOf(data, form.get('compression')?.toLowerCase() ?? compression, max, over)
  try {
    return await payloadOf(trimmed, compression, max, over)
  } catch (err) {
    if (form && err instanceof BodyError && err.statusCode === 400)
      throw malformed('a form body must hold the events as data=')
    throw err
  }
}

/** A `data=` value, or a bare body that is not JSON: JSON, base64 (of JSON or gzip) or lz64. */
async function payloadOf(
  data: string,
  compression: string | undefined,
  max: number,
  over: (size: string) => AppError,
): Promise<unknown> {
  const trimmed = data.trim()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) return parseJson(trimmed)
  // A form decoder reads an unescaped "+" as a space; base64 has no spaces.
  const encoded = trimmed.replace(/ /g, '+')
  const lz = () => {
    const decoded = decodeLz64(encoded, max)
    if (decoded && 'tooLong' in decoded) throw over(`more than ${max} characters`)
    return decoded?.text
  }
  // The label decides the order of the guesses, never whether one is tried.
  if (compression === 'lz64') {
    const text = lz()
    if (text !== undefined) return parseJson(text)
  }
  if (BASE64.test(encoded)) {
    const bytes = Buffer.from(encoded, 'base64')
    if (isGzip(bytes) || /^\s*[[{]/.test(bytes.toString('utf8', 0, 64))) {
      const json = await textOf(bytes, max, over)
      return parseJson(json)
    }
  }
  if (compression !== 'lz64') {
    const text = lz()
    if (text !== undefined && /^\s*[[{]/.test(text)) return parseJson(text)
  }
  throw malformed(
    'the body is not JSON, nor gzip, base64 or lz64 of it (nor a form with one of those as data=)',
  )
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch (err) {
    throw malformed(`the body is not valid JSON: ${(err as Error).message}`)
  }
}
