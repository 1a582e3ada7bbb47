import { randomUUID } from 'node:crypto'
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { AppError, STATUS_TITLES } from '../errors.ts'
import { isTransient } from '../transient-errors.ts'

export const PROBLEM_TYPE = 'application/problem+json'

export interface Problem {
  status: number
  headers: Record<string, string>
  body: Record<string, unknown>
}

const problemBody = (status: number, code: string, detail: string) => ({
  type: 'about:blank',
  title: STATUS_TITLES[status] ?? 'Error',
  status,
  code,
  detail,
})

/** The single error body of the service: RFC 9457 problem details plus a stable `code`. */
export function toProblem(err: FastifyError | AppError | Error): Problem {
  if (err instanceof AppError) {
    const body: Record<string, unknown> = problemBody(err.statusCode, err.code, err.message)
    if (err.extra.errors) body.errors = err.extra.errors
    return { status: err.statusCode, headers: err.extra.headers ?? {}, body }
  }
  const status = (err as FastifyError).statusCode
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own client errors: malformed JSON, body too large, wrong content type, a bad URL.
    const code = (err as FastifyError).code ?? 'BAD_REQUEST'
    return {
      status,
      headers: {},
      body: {
        ...problemBody(status, clientCode(code), err.message),
        title: STATUS_TITLES[status] ?? 'Bad Request',
      },
    }
  }
  if (isTransient(err)) {
    return {
      status: 503,
      headers: { 'retry-after': '5' },
      body: problemBody(
        503,
        'DEPENDENCY_UNAVAILABLE',
        'a backing service is unavailable; retry later',
      ),
    }
  }
  // Never leak internals in a 5xx.
  return { status: 500, headers: {}, body: problemBody(500, 'INTERNAL_ERROR', 'internal error') }
}

function clientCode(fastifyCode: string): string {
  switch (fastifyCode) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'BODY_TOO_LARGE'
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'UNSUPPORTED_MEDIA_TYPE'
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return 'MALFORMED_JSON'
    case 'FST_ERR_BAD_URL':
      return 'BAD_URL'
    default:
      return fastifyCode.startsWith('FST_') ? 'BAD_REQUEST' : fastifyCode
  }
}

export function sendProblem(
  problem: Problem,
  request: FastifyRequest,
  reply: FastifyReply,
): FastifyReply {
  for (const [name, value] of Object.entries(problem.headers)) reply.header(name, value)
  return reply
    .code(problem.status)
    .type(PROBLEM_TYPE)
    .send({ ...problem.body, instance: request.url, request_id: request.id })
}

/**
 * Fastify's frameworkErrors: errors found before a route is chosen (a URL whose
 * percent-encoding is broken). No hook has run, so the request id is set here.
 */
export function frameworkErrors(
  err: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  reply.header('x-request-id', request.id)
  void sendProblem(toProblem(err), request, reply)
}

/**
 * Node's HTTP parser fails before Fastify sees a request: headers too large,
 * a request that did not arrive in time, bytes that are not HTTP. The answer is
 * written on the socket as it stands, in the same problem shape (there is no
 * request path to name), and the connection is closed.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const [status, code, detail] =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'REQUEST_TIMEOUT', 'the request did not arrive in time']
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'HEADERS_TOO_LARGE', 'the request headers are too large']
        : [400, 'MALFORMED_REQUEST', 'the request is not valid HTTP/1.1']
  // A response already under way cannot be followed by another on the same connection.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } })._httpMessage
  if (socket.writable && !inFlight?.headersSent) {
    const id = randomUUID()
    const body = JSON.stringify({ ...problemBody(status, code, detail), request_id: id })
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_TITLES[status]}\r\nContent-Type: ${PROBLEM_TYPE}; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n${body}`,
    )
  }
  socket.destroy()
}
