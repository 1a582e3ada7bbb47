import http from 'node:http'
import net from 'node:net'
import { gunzipSync } from 'node:zlib'

// What stands between a real SDK and the service in the SDK tests: an HTTP
// front that records every request (and can answer 503 for a while, as a full
// queue does), and a TCP proxy that cuts the connection once the service has
// answered, so the client never hears that its batch was taken.

export interface FrontRequest {
  method: string
  path: string
  headers: http.IncomingHttpHeaders
  /** the status the client got: the front's own 503, or the service's */
  status: number
  /** the messages of the body, decoded (gzip by its magic bytes, JSON) */
  messages: Array<Record<string, unknown>>
  /** the body's fields beside its messages (writeKey, sentAt, api_key, sent_at, ...) */
  envelope: Record<string, unknown>
}

/** The JSON a client sent, whether gzipped or not, labelled as JSON, form or anything else. */
export function decodeBody(raw: Buffer): unknown {
  if (raw.length === 0) return undefined
  const text = raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw).toString() : raw.toString()
  return JSON.parse(text)
}

function split(body: unknown): Pick<FrontRequest, 'messages' | 'envelope'> {
  if (body === null || typeof body !== 'object') return { messages: [], envelope: {} }
  const { batch, ...envelope } = body as Record<string, unknown>
  if (Array.isArray(batch)) return { messages: batch as Array<Record<string, unknown>>, envelope }
  return { messages: [body as Record<string, unknown>], envelope: {} }
}

export class RecordingFront {
  readonly requests: FrontRequest[] = []
  private failing = 0
  private failStatus = 503
  private retryAfter = '1'
  private server: http.Server
  private readonly agent = new http.Agent({ keepAlive: true })
  /** how many requests the front answered itself */
  refused = 0
  url = ''

  private constructor(private readonly upstream: URL) {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => this.handle(req, res, Buffer.concat(chunks)))
    })
  }

  static async start(upstream: string): Promise<RecordingFront> {
    const front = new RecordingFront(new URL(upstream))
    await new Promise<void>((resolve) => front.server.listen(0, '127.0.0.1', resolve))
    front.url = `http://127.0.0.1:${(front.server.address() as net.AddressInfo).port}`
    return front
  }

  /** The next `n` requests are answered with `status` and Retry-After, never reaching the service. */
  failNext(n: number, status = 503, retryAfter = '1'): void {
    this.failing = n
    this.failStatus = status
    this.retryAfter = retryAfter
  }

  /** Every message the service was sent (each attempt of a retried batch again). */
  messagesSent(): Array<Record<string, unknown>> {
    return this.requests.flatMap((r) => r.messages)
  }

  private record(req: http.IncomingMessage, raw: Buffer, status: number): void {
    let decoded: unknown
    try {
      decoded = decodeBody(raw)
    } catch {
      decoded = undefined
    }
    this.requests.push({
      method: req.method!,
      path: req.url!,
      headers: req.headers,
      status,
      ...split(decoded),
    })
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse, raw: Buffer): void {
    if (this.failing > 0) {
      this.failing--
      this.refused++
      this.record(req, raw, this.failStatus)
      res.writeHead(this.failStatus, {
        'content-type': 'application/json',
        'retry-after': this.retryAfter,
      })
      res.end(JSON.stringify({ code: 'QUEUE_FULL', message: 'forced by the test front' }))
      return
    }
    const headers = { ...req.headers, host: this.upstream.host }
    const forward = http.request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent: this.agent,
      },
      (answer) => {
        const body: Buffer[] = []
        answer.on('data', (c: Buffer) => body.push(c))
        answer.on('end', () => {
          this.record(req, raw, answer.statusCode!)
          res.writeHead(answer.statusCode!, answer.headers)
          res.end(Buffer.concat(body))
        })
      },
    )
    forward.on('error', () => res.destroy())
    forward.end(raw)
  }

  async close(): Promise<void> {
    this.agent.destroy()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

/**
 * A TCP forwarder that, for the next `n` answers, drops both sides as soon as
 * the first byte of the answer comes back: the service has done its work and
 * answered, the client sees a reset connection and retries.
 */
export class AnswerCuttingProxy {
  private readonly sockets = new Set<net.Socket>()
  private readonly server: net.Server
  private toCut = 0
  /** answers cut so far */
  cut = 0
  port = 0

  constructor(private readonly target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      const upstream = net.connect(this.target)
      this.sockets.add(client).add(upstream)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        this.sockets.delete(client)
        this.sockets.delete(upstream)
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
      client.pipe(upstream)
      upstream.on('data', (chunk: Buffer) => {
        if (this.toCut > 0) {
          this.toCut--
          this.cut++
          client.resetAndDestroy()
          drop()
          return
        }
        client.write(chunk)
      })
    })
  }

  static async start(upstream: string): Promise<AnswerCuttingProxy> {
    const url = new URL(upstream)
    const proxy = new AnswerCuttingProxy({ host: url.hostname, port: Number(url.port) })
    await new Promise<void>((resolve) => proxy.server.listen(0, '127.0.0.1', resolve))
    proxy.port = (proxy.server.address() as net.AddressInfo).port
    return proxy
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`
  }

  cutNext(n: number): void {
    this.toCut = n
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy()
    this.sockets.clear()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
