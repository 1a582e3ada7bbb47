import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { SyncWaker } from '../../src/analytics/sync-waker.ts'

const FOREVER_MS = 600_000

/** Whether wait() resolved before the other promises queued now. */
async function resolvesAtOnce(waiting: Promise<void>): Promise<boolean> {
  return Promise.race([
    waiting.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 20)),
  ])
}

describe('SyncWaker', () => {
  test('wake-ups that came while the sync was busy lead to one more read, not one each', async () => {
    const waker = new SyncWaker()
    const stop = new AbortController()
    for (let i = 0; i < 100; i++) waker.wake()
    assert.equal(await resolvesAtOnce(waker.wait(FOREVER_MS, stop.signal)), true)
    // All of them were covered by that read: the next wait waits.
    const next = waker.wait(FOREVER_MS, stop.signal)
    assert.equal(await resolvesAtOnce(next), false)
    waker.wake()
    waker.wake()
    await next
    stop.abort()
  })

  test('a wait ends at the poll interval without a wake-up, and at once on abort', async () => {
    const waker = new SyncWaker()
    const stop = new AbortController()
    await waker.wait(1, stop.signal)
    const waiting = waker.wait(FOREVER_MS, stop.signal)
    stop.abort()
    await waiting
    await waker.wait(FOREVER_MS, stop.signal)
  })
})
