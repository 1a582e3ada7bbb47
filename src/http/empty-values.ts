import type { FastifyRequest } from 'fastify'

interface PropertySchema {
  type?: string
  format?: string
}

/**
 * preValidation: `limit=` or `from=` (a form field left blank) is the same as
 * no parameter, so the default applies or it "is required". Only for typed
 * parameters (numbers, formatted strings): for free text, such as a filter or
 * an event type, the empty string is a value of its own.
 */
export async function emptyMeansAbsent(request: FastifyRequest): Promise<void> {
  const properties = (
    request.routeOptions.schema?.querystring as
      | { properties?: Record<string, PropertySchema> }
      | undefined
  )?.properties
  if (!properties) return
  const query = request.query as Record<string, unknown>
  for (const [name, value] of Object.entries(query)) {
    const schema = properties[name]
    if (
      value === '' &&
      schema &&
      (schema.type === 'integer' || schema.type === 'number' || schema.format !== undefined)
    )
      delete query[name]
  }
}
