import assert from 'node:assert/strict'
import { after, afterEach, beforeEach, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { validateBatch } from '../../src/events/validate-batch.ts'
import { createLogger } from '../../src/logger.ts'
import { QueueFullError } from '../../src/queue/event-queue.ts'
import { GROUP, queueKeys, RedisStreamQueue } from '../../src/queue/redis-stream-queue.ts'
import { redisConnector } from '../../src/redis.ts'
import { decodeCopyRows } from '../../src/store/copy-rows.ts'
import { deleteKeys, uniquePrefix } from '../helpers/app.ts'
import { inProject, makeEvents, waitFor } from '../helpers/events.ts'
import { skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'

const limits = { maxBatchSize: 1000, maxPropertiesBytes: 16384, maxFutureSkewMs: 86_400_000 }
const events = (n: number) => validateBatch(makeEvents(n), limits)

describe('RedisStreamQueue', { skip: await skipUnless('redis') }, () => {
  let prefix: string
  let queue: RedisStreamQueue
  const redis = new Redis(TEST_REDIS_URL)

  beforeEach(() => {
    prefix = uniquePrefix()
    queue = new RedisStreamQueue({
      connect: redisConnector(TEST_REDIS_URL, createLogger('silent')),
      prefix,
      maxEvents: 10,
    })
  })
  afterEach(async () => {
    await queue.close()
    await deleteKeys(prefix)
  })
  after(() => redis.disconnect())
  /** how long Redis says a pending entry has been idle */
  const idleOf = async (id: string) => {
    const [entry] = (await redis.xpending(queueKeys(prefix).stream, GROUP, id, id, 1)) as Array<
      [string, string, number, number]
    >
    return Number(entry?.[2])
  }

  test('an entry is delivered once to the group and leaves the stream when acknowledged', async () => {
    const batch = events(3)
    const id = await queue.enqueue(batch, { project: 1, requestId: 'req-1' })
    const [entry, ...rest] = await queue.read('c1', 10, 10)
    assert.equal(rest.length, 0)
    const { rows, ...meta } = entry!
    assert.deepEqual(meta, { id, count: 3, project: 1, requestId: 'req-1', deliveries: 1 })
    // COPY rows, in id order: the events come back as enqueued, in their project.
    assert.deepEqual(
      decodeCopyRows(rows!),
      inProject(batch).sort((a, b) => (a.event_id < b.event_id ? -1 : 1)),
    )
    assert.deepEqual(await queue.read('c2', 10, 10), [], 'another consumer does not get it again')
    assert.equal((await queue.status(1)).shared.pending, 1)
    await queue.ack([id])
    const status = await queue.status(1)
    assert.deepEqual(
      [
        status.shared.length,
        status.shared.pending,
        status.shared.queued_events,
        status.queued_events,
      ],
      [0, 0, 0, 0],
    )
  })

  test('an entry of JSON events (the format before COPY rows) is still read, as its text', async () => {
    const batch = events(2)
    const { stream, counter } = queueKeys(prefix)
    await redis.incrby(counter, 2)
    const id = await redis.xadd(
      stream,
      '*',
      'n',
      '2',
      'rid',
      'old',
      'events',
      JSON.stringify(batch),
    )
    const [entry] = await queue.read('c1', 10, 10)
    // Queued before projects: it names none, so it is the default project's.
    assert.deepEqual(
      { ...entry, payload: JSON.parse(entry!.payload!) },
      { id, count: 2, project: 1, requestId: 'old', deliveries: 1, payload: batch },
    )
  })

  test("entries queued before projects, once acknowledged, leave the default project's count right", async () => {
    const { stream, counter } = queueKeys(prefix)
    // As a version before projects enqueued: the shared counter only.
    await redis.incrby(counter, 2)
    const old = await redis.xadd(
      stream,
      '*',
      'n',
      '2',
      'rid',
      'old',
      'events',
      JSON.stringify(events(2)),
    )
    await queue.read('c1', 10, 10)
    await queue.ack([old!])
    await queue.enqueue(events(3), { project: 1 })
    const status = await queue.status(1)
    assert.deepEqual([status.shared.queued_events, status.queued_events], [3, 3])
  })

  test('past the bound it refuses instead of trimming what it holds', async () => {
    await queue.enqueue(events(6), { project: 1 })
    await assert.rejects(queue.enqueue(events(5), { project: 1 }), QueueFullError)
    await queue.enqueue(events(4), { project: 1 })
    const status = await queue.status(1)
    assert.deepEqual(
      [status.shared.length, status.shared.queued_events, status.queued_events, status.max_events],
      [2, 10, 10, 10],
    )
  })

  test("a project's status counts its own events and dead letters; the bound and the shared figures are the whole queue's", async () => {
    const first = await queue.enqueue(events(3), { project: 1 })
    const second = await queue.enqueue(events(4), { project: 2 })
    await assert.rejects(queue.enqueue(events(4), { project: 3 }), QueueFullError)
    const counts = async (project: number) => {
      const s = await queue.status(project)
      return [s.queued_events, s.dead_lettered, s.shared.queued_events, s.shared.length]
    }
    assert.deepEqual(await counts(1), [3, 0, 7, 2])
    assert.deepEqual(await counts(2), [4, 0, 7, 2])
    assert.deepEqual(await counts(3), [0, 0, 7, 2])
    const read = await queue.read('c1', 10, 10)
    assert.deepEqual(
      read.map((e) => [e.id, e.project]),
      [
        [first, 1],
        [second, 2],
      ],
    )
    assert.deepEqual(
      decodeCopyRows(read[1]!.rows!).map((e) => e.project_id),
      [2, 2, 2, 2],
    )
    await queue.deadLetter(read[1]!, 'boom')
    assert.deepEqual(await counts(2), [0, 1, 3, 1])
    assert.deepEqual(await counts(1), [3, 0, 3, 1])
    await queue.ack([first])
    assert.deepEqual(await counts(1), [0, 0, 0, 0])
    assert.equal((await queue.status(1)).shared.dead_lettered, 1)
  })

  test('acknowledging twice (two workers after a claim) frees the room once', async () => {
    const id = await queue.enqueue(events(4), { project: 1 })
    await queue.read('c1', 10, 10)
    await queue.ack([id])
    await queue.ack([id])
    await queue.enqueue(events(2), { project: 1 })
    const status = await queue.status(1)
    assert.deepEqual([status.shared.queued_events, status.queued_events], [2, 2])
  })

  test('an entry left pending is claimed by another consumer with its delivery count', async () => {
    const id = await queue.enqueue(events(1), { project: 1 })
    await queue.read('dead-worker', 10, 10)
    assert.deepEqual(await queue.claimStale('c2', 60_000, 10), [], 'not stale yet')
    await new Promise((r) => setTimeout(r, 30))
    const [claimed] = await queue.claimStale('c2', 20, 10)
    assert.equal(claimed?.id, id)
    assert.equal(claimed?.deliveries, 2)
    // Stale by this threshold, then kept alive: the claim right after must find it
    // fresh. The threshold is far above the gap between those two calls, so a
    // stalled machine cannot make it stale again in between.
    const idleMs = 1_000
    await waitFor(
      'the entry idle past the threshold',
      () => idleOf(id),
      (ms) => ms >= idleMs,
      10_000,
    )
    await queue.keepAlive('c2', [id])
    assert.deepEqual(await queue.claimStale('c3', idleMs, 10), [], 'keepAlive reset its idle time')
  })

  test('a dead-lettered entry moves with its error and frees its room', async () => {
    const id = await queue.enqueue(events(5), { project: 1, requestId: 'req-9' })
    const [entry] = await queue.read('c1', 10, 10)
    await queue.deadLetter({ ...entry!, deliveries: 3 }, 'boom')
    const status = await queue.status(1)
    assert.deepEqual(
      [
        status.shared.length,
        status.shared.pending,
        status.shared.queued_events,
        status.shared.dead_lettered,
      ],
      [0, 0, 0, 1],
    )
    assert.deepEqual([status.queued_events, status.dead_lettered], [0, 1])
    const [dead] = await queue.deadLetters()
    assert.equal(dead?.source_id, id)
    assert.equal(dead?.error, 'boom')
    assert.equal(dead?.deliveries, '3')
    assert.equal(dead?.rid, 'req-9')
    assert.equal(JSON.parse(dead!.events!).length, 5)
  })

  test("events set aside leave one dead-letter record each and free the whole entry's room, once", async () => {
    const batch = inProject(events(5))
    const id = await queue.enqueue(batch, { project: 1, requestId: 'req-10' })
    const [entry] = await queue.read('c1', 10, 10)
    const rejects = [
      { event: batch[1]!, error: 'bad time' },
      { event: batch[3]!, error: 'NUL' },
    ]
    await queue.deadLetterEvents(entry!, rejects)
    // A second worker that held the entry too must not double the records.
    await queue.deadLetterEvents(entry!, rejects)
    const status = await queue.status(1)
    assert.deepEqual(
      [
        status.shared.length,
        status.shared.pending,
        status.shared.queued_events,
        status.shared.dead_lettered,
      ],
      [0, 0, 0, 2],
    )
    assert.deepEqual([status.queued_events, status.dead_lettered], [0, 2])
    const dead = (await queue.deadLetters()).reverse()
    assert.deepEqual(
      dead.map((d) => [d.source_id, d.rid, d.n, d.deliveries, d.error, d.events]),
      [
        [id, 'req-10', '1', '1', 'bad time', JSON.stringify([batch[1]])],
        [id, 'req-10', '1', '1', 'NUL', JSON.stringify([batch[3]])],
      ],
    )
  })

  test('consumers that hold nothing and have been idle are pruned; those with pending entries stay', async () => {
    await queue.enqueue(events(1), { project: 1 })
    await queue.read('holder', 10, 10)
    await queue.read('gone', 10, 10)
    await new Promise((r) => setTimeout(r, 30))
    assert.equal(await queue.pruneConsumers(20), 1)
    assert.deepEqual(
      (await queue.status(1)).shared.consumers.map((c) => c.name),
      ['holder'],
    )
  })

  test('status lists the consumers of the group, idle ones too', async () => {
    await queue.read('idle', 10, 10)
    await queue.enqueue(events(1), { project: 1 })
    await queue.read('c1', 10, 10)
    const status = await queue.status(1)
    assert.deepEqual(status.shared.consumers.map((c) => [c.name, c.pending]).sort(), [
      ['c1', 1],
      ['idle', 0],
    ])
    assert.equal(await redis.exists(queueKeys(prefix).stream), 1)
  })
})
