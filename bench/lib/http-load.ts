import { Pool } from 'undici'

export interface RequestBody {
  body: string
  count: number
}

export interface HttpLoadResult {
  /** performance.now() when the first request was sent */
  startedAt: number
  /** performance.now() when the last response had arrived */
  finishedAt: number
  /** one entry per request, in ms */
  latenciesMs: number[]
  /** sum of `inserted` over the responses: what the API says it took */
  acceptedEvents: number
}

/**
 * Posts every body once, from `concurrency` clients that each keep one request
 * in flight over a kept-alive connection. The first unexpected answer stops all
 * clients and fails the run: a number measured over errors means nothing.
 * `bodies` may be a generator that decides while the load runs when to stop.
 */
export async function postBatches(
  baseUrl: string,
  bodies: Iterable<RequestBody>,
  concurrency: number,
  expectedStatus: number,
): Promise<HttpLoadResult> {
  const pool = new Pool(baseUrl, { connections: concurrency, pipelining: 1 })
  const latenciesMs: number[] = []
  let acceptedEvents = 0
  const source = bodies[Symbol.iterator]()
  let failed = false

  const send = async ({ body, count }: RequestBody): Promise<void> => {
    const sent = performance.now()
    const res = await pool.request({
      method: 'POST',
      path: '/events',
      headers: { 'content-type': 'application/json' },
      body,
    })
    const text = await res.body.text()
    latenciesMs.push(performance.now() - sent)
    if (res.statusCode !== expectedStatus) {
      throw new Error(
        `POST /events answered ${res.statusCode}, expected ${expectedStatus}: ${text.slice(0, 500)}`,
      )
    }
    const { inserted } = JSON.parse(text) as { inserted: number }
    if (inserted !== count)
      throw new Error(
        `POST /events took ${inserted} of ${count} fresh events: ${text.slice(0, 500)}`,
      )
    acceptedEvents += inserted
  }
  const client = async (): Promise<void> => {
    while (!failed) {
      const next = source.next()
      if (next.done) return
      try {
        await send(next.value)
      } catch (err) {
        failed = true
        throw err
      }
    }
  }

  const startedAt = performance.now()
  try {
    const results = await Promise.allSettled(Array.from({ length: concurrency }, client))
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failure) throw failure.reason
    return { startedAt, finishedAt: performance.now(), latenciesMs, acceptedEvents }
  } finally {
    await pool.close()
  }
}
