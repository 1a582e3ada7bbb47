import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { type ServerTestApp, startServerTestApp } from '../helpers/app.ts'
import { makeEvents, waitFor } from '../helpers/events.ts'
import { skipUnless } from '../helpers/services.ts'
import { rawConnection, rawRequest } from './raw-http.ts'

const UUID = /^[0-9a-f-]{36}$/
const PROBLEM = 'application/problem+json; charset=utf-8'

// What the HTTP layer answers before a route runs (Node's parser, Fastify's
// router) is the same problem body as everything else, with a stable code.
describe('errors of the HTTP layer itself are problem+json', {
  skip: await skipUnless('postgres'),
}, () => {
  let t: ServerTestApp
  let port: number

  before(async () => {
    t = await startServerTestApp({
      queue: false,
      env: { REQUEST_TIMEOUT_MS: '1000', CONNECTION_TIMEOUT_MS: '60000' },
    })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as AddressInfo).port
  })
  after(async () => {
    await t?.close()
  })

  /** The parser's errors: no request path to name, a fresh request id, the connection closed. */
  function assertParserProblem(
    res: Awaited<ReturnType<typeof rawRequest>>,
    status: number,
    title: string,
    code: string,
    detail: string,
  ) {
    assert.equal(res.status, status, res.body)
    assert.equal(res.headers['content-type'], PROBLEM)
    assert.equal(res.headers.connection, 'close')
    assert.ok(res.closed, 'the connection is closed')
    const { request_id: id, ...body } = JSON.parse(res.body)
    assert.match(id, UUID)
    assert.equal(res.headers['x-request-id'], id)
    assert.deepEqual(body, { type: 'about:blank', title, status, code, detail })
  }

  test('headers over the limit: 431 HEADERS_TOO_LARGE', async () => {
    const res = await rawRequest(port, [
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    ])
    assertParserProblem(
      res,
      431,
      'Request Header Fields Too Large',
      'HEADERS_TOO_LARGE',
      'the request headers are too large',
    )
  })

  test('bytes that are not HTTP: 400 MALFORMED_REQUEST', async () => {
    for (const raw of [
      'GARBAGE\r\n\r\n',
      'GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n',
      'GET /health HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    ]) {
      const res = await rawRequest(port, [raw])
      assertParserProblem(
        res,
        400,
        'Bad Request',
        'MALFORMED_REQUEST',
        'the request is not valid HTTP/1.1',
      )
    }
  })

  test('a URL with broken percent-encoding: 400 BAD_URL, naming the request', async () => {
    const res = await rawRequest(port, [
      'GET /stats/%E0%A4%A HTTP/1.1\r\nHost: x\r\nX-Request-Id: probe-1\r\nConnection: close\r\n\r\n',
    ])
    assert.equal(res.status, 400, res.body)
    assert.equal(res.headers['content-type'], PROBLEM)
    assert.equal(res.headers['x-request-id'], 'probe-1')
    assert.deepEqual(JSON.parse(res.body), {
      type: 'about:blank',
      title: 'Bad Request',
      status: 400,
      code: 'BAD_URL',
      detail: "'/stats/%E0%A4%A' is not a valid url component",
      instance: '/stats/%E0%A4%A',
      request_id: 'probe-1',
    })
  })

  test('a body that stalls is answered 408 REQUEST_TIMEOUT and the socket closed', async () => {
    const res = await rawRequest(port, [
      'POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{"ev',
    ])
    assertParserProblem(
      res,
      408,
      'Request Timeout',
      'REQUEST_TIMEOUT',
      'the request did not arrive in time',
    )
  })

  test('headers that stall are answered 408 too', async () => {
    const res = await rawRequest(port, ['GET /health HTTP/1.1\r\nHost: x\r\n'])
    assertParserProblem(
      res,
      408,
      'Request Timeout',
      'REQUEST_TIMEOUT',
      'the request did not arrive in time',
    )
  })

  test('a well-formed request on the same server is unaffected', async () => {
    const res = await rawRequest(port, [
      'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ])
    assert.equal(res.status, 200, res.body)
    assert.equal(JSON.parse(res.body).status, 'healthy')
  })
})

describe('a connection that sends nothing is closed after CONNECTION_TIMEOUT_MS', {
  skip: await skipUnless('postgres'),
}, () => {
  let t: ServerTestApp

  before(async () => {
    t = await startServerTestApp({
      queue: false,
      env: { CONNECTION_TIMEOUT_MS: '500' },
    })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  after(async () => {
    await t?.close()
  })

  test('closed without an answer', async () => {
    const res = await rawRequest((t.app.server.address() as AddressInfo).port, [])
    assert.deepEqual(res, { status: 0, headers: {}, body: '', closed: true })
  })
})

describe('while shutting down, a request on a kept-alive connection is answered 503 SHUTTING_DOWN', {
  skip: await skipUnless('postgres'),
}, () => {
  let t: ServerTestApp

  before(async () => {
    t = await startServerTestApp({ queue: false })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
  })
  after(async () => {
    await t?.close()
  })

  test('the request under way finishes; the next one on its connection is a problem body with Retry-After', async () => {
    const body = JSON.stringify(makeEvents(1))
    const conn = rawConnection((t.app.server.address() as AddressInfo).port)
    // Under way means the server has taken the request in (its hooks ran before
    // close began), not merely that the connection is open: on a busy machine the
    // headers can arrive after close() has started.
    const taken = new Promise<void>((resolve) =>
      t.app.server.once('request', () => setImmediate(resolve)),
    )
    // Half a body keeps the connection busy, so closing the server does not drop it as idle.
    conn.write(
      `POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    )
    await taken
    const closing = t.app.close()
    await waitFor(
      'the server to stop listening',
      async () => t.app.server.listening,
      (listening) => !listening,
    )
    conn.write(
      `${body.slice(10)}GET /health HTTP/1.1\r\nHost: x\r\nX-Request-Id: after-close\r\n\r\n`,
    )
    const { data, closed } = await conn.untilClosed()
    await closing
    assert.ok(closed, data)
    const [first, second] = data.split(/(?=HTTP\/1\.1 )/)
    assert.match(first!, /^HTTP\/1\.1 201 /)
    assert.match(second!, /^HTTP\/1\.1 503 /)
    assert.match(second!, /\r\ncontent-type: application\/problem\+json; charset=utf-8\r\n/i)
    assert.match(second!, /\r\nretry-after: 1\r\n/i)
    assert.match(second!, /\r\nconnection: close\r\n/i)
    assert.deepEqual(JSON.parse(second!.slice(second!.indexOf('\r\n\r\n') + 4)), {
      type: 'about:blank',
      title: 'Service Unavailable',
      status: 503,
      code: 'SHUTTING_DOWN',
      detail: 'this process is shutting down; retry',
      instance: '/health',
      request_id: 'after-close',
    })
  })
})
