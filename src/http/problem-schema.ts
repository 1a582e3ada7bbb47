import Type, { type Static, type TSchema } from 'typebox'
import { STATUS_TITLES } from '../errors.ts'

// The one error body of the service, as app.ts's error handler builds it. Routes
// reference it for every error status they can answer, so the OpenAPI document
// shows it. additionalProperties stays open because a declared response schema
// makes Fastify serialize through it, and an undeclared member (RFC 9457 allows
// extensions) must never be dropped silently on the way out.
export const FieldErrorSchema = Type.Object(
  {
    index: Type.Optional(
      Type.Integer({
        minimum: 0,
        description: 'position of the event in the request, when the error is about one event',
      }),
    ),
    field: Type.String({ description: 'the field or parameter at fault' }),
    message: Type.String(),
  },
  { additionalProperties: true },
)

export const Problem = Type.Object(
  {
    type: Type.String({ description: 'always about:blank: `code` says what went wrong' }),
    title: Type.String({ description: 'the HTTP reason phrase' }),
    status: Type.Integer({ minimum: 400, maximum: 599 }),
    code: Type.String({ description: 'stable, machine-readable error code' }),
    detail: Type.String({ description: 'human-readable explanation; never internals on a 5xx' }),
    instance: Type.Optional(
      Type.String({
        description: 'the request path and query; absent when the request could not be parsed',
      }),
    ),
    request_id: Type.String({
      description: 'also sent as the X-Request-Id header; quote it when reporting a problem',
    }),
    errors: Type.Optional(
      Type.Array(FieldErrorSchema, {
        description: 'every invalid field, on a 422 VALIDATION_ERROR',
      }),
    ),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details with a stable `code`' },
)
export type Problem = Static<typeof Problem>

const PROBLEM_MEDIA_TYPE = 'application/problem+json'

const header = (description: string, schema: TSchema = Type.Integer({ minimum: 0 })) => ({
  ...schema,
  description,
})
const RETRY_AFTER = { 'Retry-After': header('seconds to wait before trying again') }
/** Sent on every response to a request that passed authentication, not only on a 429. */
export const RATE_LIMIT_HEADERS = {
  'X-RateLimit-Limit': header('burst size of the bucket'),
  'X-RateLimit-Remaining': header('requests left in the bucket'),
  'X-RateLimit-Reset': header('seconds until the bucket is full again'),
  'RateLimit-Limit': header('IETF name of X-RateLimit-Limit'),
  'RateLimit-Remaining': header('IETF name of X-RateLimit-Remaining'),
  'RateLimit-Reset': header('IETF name of X-RateLimit-Reset'),
}

interface ProblemCase {
  description: string
  code: string
  detail: string
  headers?: Record<string, TSchema>
  errors?: Problem['errors']
}

const CASES = {
  400: {
    description: 'Malformed JSON body (MALFORMED_JSON) or another malformed request (BAD_REQUEST)',
    code: 'MALFORMED_JSON',
    detail: "Body is not valid JSON but content-type is set to 'application/json'",
  },
  401: {
    description: 'No API key, or an unknown one (UNAUTHORIZED)',
    code: 'UNAUTHORIZED',
    detail: 'an API key is required (Authorization: Bearer <key> or X-API-Key)',
    headers: { 'WWW-Authenticate': header('the scheme to authenticate with', Type.String()) },
  },
  403: {
    description: 'The API key lacks the scope this route needs (FORBIDDEN)',
    code: 'FORBIDDEN',
    detail: "this key's scope is write; the route needs read",
  },
  409: {
    description:
      'A request with the same Idempotency-Key is still being processed (IDEMPOTENCY_KEY_IN_USE)',
    code: 'IDEMPOTENCY_KEY_IN_USE',
    detail: 'a request with this Idempotency-Key is still being processed; retry shortly',
    headers: RETRY_AFTER,
  },
  413: {
    description: 'The body is over the byte limit (BODY_TOO_LARGE)',
    code: 'BODY_TOO_LARGE',
    detail: 'Request body is too large',
  },
  415: {
    description: 'The body is not application/json (UNSUPPORTED_MEDIA_TYPE)',
    code: 'UNSUPPORTED_MEDIA_TYPE',
    detail: 'Unsupported Media Type: text/plain',
  },
  404: {
    description:
      'No such project (PROJECT_NOT_FOUND): a service-wide key, or a service without keys, named one that does not exist',
    code: 'PROJECT_NOT_FOUND',
    detail: 'there is no project "web"',
  },
  422: {
    description:
      'Invalid input (VALIDATION_ERROR): `errors` names every bad field or parameter; PROJECT_REQUIRED when a service-wide caller names no project and there are several',
    code: 'VALIDATION_ERROR',
    detail: '2 invalid field(s)',
    errors: [
      { index: 1, field: 'user_id', message: 'must NOT have fewer than 1 characters' },
      { index: 2, field: 'event_id', message: 'must match format "uuid"' },
    ],
  },
  429: {
    description:
      "Rate limit reached (RATE_LIMITED), or, on ingestion, the project's events/day quota (QUOTA_EXCEEDED)",
    code: 'RATE_LIMITED',
    detail: 'rate limit reached: 100 requests of burst; retry in 3 s',
    headers: { ...RETRY_AFTER, ...RATE_LIMIT_HEADERS },
  },
  500: {
    description: 'Unexpected failure (INTERNAL_ERROR); no internals are disclosed',
    code: 'INTERNAL_ERROR',
    detail: 'internal error',
  },
  503: {
    description:
      'The ingestion queue is full (QUEUE_FULL) or a backing service is unavailable (DEPENDENCY_UNAVAILABLE)',
    code: 'QUEUE_FULL',
    detail: 'the ingestion queue is full; retry later',
    headers: RETRY_AFTER,
  },
} satisfies Record<number, ProblemCase>

export type ProblemStatus = keyof typeof CASES

/**
 * Response entries for these statuses, keyed by media type: Fastify serializes
 * with the Problem schema only when the reply is application/problem+json, and
 * @fastify/swagger shows the example and headers.
 */
export function problemResponses(
  path: string,
  statuses: readonly ProblemStatus[],
  /** a route's own example body for a status, where the generic one would mislead */
  own: Partial<Record<ProblemStatus, Pick<ProblemCase, 'detail' | 'errors'>>> = {},
) {
  return Object.fromEntries(
    statuses.map((status) => {
      const c: ProblemCase = { ...CASES[status], ...own[status] }
      const example: Problem = {
        type: 'about:blank',
        title: STATUS_TITLES[status]!,
        status,
        code: c.code,
        detail: c.detail,
        instance: path,
        request_id: '3f1c9a52-8d7e-4b0a-9c51-2d6f0e8b7a14',
        ...(c.errors ? { errors: c.errors } : {}),
      }
      return [
        status,
        {
          description: c.description,
          ...(c.headers ? { headers: c.headers } : {}),
          content: { [PROBLEM_MEDIA_TYPE]: { schema: Problem, example } },
        },
      ]
    }),
  )
}

/** Either credential works on a secured route: `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export const SECURED: Array<Record<string, string[]>> = [{ bearerAuth: [] }, { apiKeyHeader: [] }]
/** What every secured route can answer before its handler runs. */
export const SECURED_STATUSES = [401, 403, 429] as const

/** A success response in the same keyed form: one example, or several named ones. */
export function jsonResponse(
  description: string,
  schema: TSchema,
  example: { example: unknown } | { examples: Record<string, { summary: string; value: unknown }> },
) {
  return { description, content: { 'application/json': { schema, ...example } } }
}

/** A secured route's success response: it carries the rate-limit headers. */
export function rateLimited<R extends object>(
  response: R,
): R & { headers: typeof RATE_LIMIT_HEADERS } {
  return { ...response, headers: RATE_LIMIT_HEADERS }
}
