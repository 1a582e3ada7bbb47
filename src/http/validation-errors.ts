import type { ErrorObject } from 'ajv'
import type { FastifySchemaValidationError } from 'fastify'
import { type FieldError, ValidationError } from '../errors.ts'

/** A property's own wording for any schema failure of it, where the one derived below would not say enough. */
export const ERROR_MESSAGE = 'x-error-message'

// Options for Fastify's ajv. allErrors: every bad parameter is named in one
// answer (the input is bounded: a URL, or a body under bodyLimit). Unknown
// members are refused rather than silently removed. verbose puts each error's
// schema on it, so the message can name the bound or format at fault.
export const AJV_OPTIONS = {
  allErrors: true,
  removeAdditional: false,
  verbose: true,
  keywords: [ERROR_MESSAGE],
}

interface PropertySchema {
  type?: string
  format?: string
  minimum?: number
  maximum?: number
  anyOf?: Array<{ const?: unknown }>
  [ERROR_MESSAGE]?: string
}
interface ObjectSchema {
  properties?: Record<string, PropertySchema>
}

const NOUNS: Record<string, string> = {
  querystring: 'parameter',
  params: 'parameter',
  headers: 'header',
  body: 'field',
}

/** Fastify's schemaErrorFormatter: the same 422 VALIDATION_ERROR the hand checks throw, one entry per bad member. */
export function toValidationError(
  errors: FastifySchemaValidationError[],
  part: string,
): ValidationError {
  const fields = toFieldErrors(errors as ErrorObject[], part)
  return new ValidationError(`${fields.length} invalid ${NOUNS[part] ?? 'field'}(s)`, fields)
}

export function toFieldErrors(errors: readonly ErrorObject[], part: string): FieldError[] {
  const out: FieldError[] = []
  const byField = new Map<string, ErrorObject[]>()
  let root: ObjectSchema | undefined
  for (const e of errors) {
    if (e.instancePath === '' && e.keyword === 'additionalProperties') {
      root = e.parentSchema as ObjectSchema
      out.push({
        field: String(e.params.additionalProperty),
        message: part === 'querystring' ? 'unknown parameter' : 'unknown field',
      })
    } else if (e.instancePath === '' && e.keyword === 'required') {
      root = e.parentSchema as ObjectSchema
      const name = String(e.params.missingProperty)
      const schema = root.properties?.[name]
      out.push({
        field: name,
        message:
          schema?.[ERROR_MESSAGE] ??
          (schema?.format === 'date' ? 'is required (YYYY-MM-DD)' : 'is required'),
      })
    } else {
      const field = unescapePointer(e.instancePath.split('/')[1] ?? '') || part
      byField.set(field, [...(byField.get(field) ?? []), e])
    }
  }
  // One entry per member, worded from the member's own schema: an anyOf, say,
  // fails as each branch and as a whole, and only the whole says what is allowed.
  for (const [field, own] of byField) {
    const top = own.find((e) => e.schemaPath === `#/properties/${field}/${e.keyword}`)
    const schema = (top?.parentSchema as PropertySchema | undefined) ?? root?.properties?.[field]
    out.push({
      field,
      message: schema ? messageFor(schema, top ?? own[0]!) : (own[0]!.message ?? 'is invalid'),
    })
  }
  return root ? byParameterOrder(out, root) : out
}

function messageFor(schema: PropertySchema, e: ErrorObject): string {
  if (schema[ERROR_MESSAGE]) return schema[ERROR_MESSAGE]
  if (schema.format === 'date')
    return `must be a calendar date as YYYY-MM-DD, from ${FIRST_DAY} to ${LAST_DAY}`
  if (schema.type === 'integer' && schema.minimum !== undefined && schema.maximum !== undefined)
    return integerMessage(schema.minimum, schema.maximum)
  const choices = schema.anyOf?.map((branch) => branch.const)
  if (choices && choices.length > 1 && choices.every((c) => typeof c === 'string')) {
    return `must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}`
  }
  return e.message ?? 'is invalid'
}

/** The days the service can name: four-digit years, as RFC 3339 has them. */
export const FIRST_DAY = '0001-01-01'
export const LAST_DAY = '9999-12-31'

export const integerMessage = (min: number, max: number) =>
  `must be an integer from ${min} to ${max}`

/** Unknown members first, then the schema's order, as a reader of the documentation would look for them. */
export function byParameterOrder(
  errors: FieldError[],
  schema: { properties?: object },
): FieldError[] {
  const order = Object.keys(schema.properties ?? {})
  const rank = (e: FieldError) => order.indexOf(e.field)
  return errors
    .map((e, i) => ({ e, i }))
    .sort((a, b) => rank(a.e) - rank(b.e) || a.i - b.i)
    .map(({ e }) => e)
}

const unescapePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~')
