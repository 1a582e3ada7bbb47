import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { MemoryQuotaStore, type QuotaStore } from '../../src/http/quota/quota-store.ts'
import { RedisQuotaStore } from '../../src/http/quota/redis-quota-store.ts'
import { deleteKeys, uniquePrefix } from '../helpers/app.ts'
import { skipUnless, TEST_REDIS_URL } from '../helpers/services.ts'

// One suite, both stores: the embedded mode must refuse exactly what the API
// processes sharing Redis refuse. Every test passes nowMs itself, so days roll
// over when the test says so, without sleeping or touching the clock.
const HOUR_MS = 3_600_000
const MARCH_1 = Date.UTC(2024, 2, 1)
const NOON = MARCH_1 + 12 * HOUR_MS
const MARCH_2 = Date.UTC(2024, 2, 2)

/**
 * Stores that share one count, as API processes share Redis: `callers[0]` is
 * the store under test, the others are its peers.
 */
interface Opened {
  callers: QuotaStore[]
  prefix?: string
}

const skipRedis = await skipUnless('redis')
const clients: Redis[] = []

const implementations: Array<{
  name: string
  skip: string | false
  before?: () => Promise<void>
  after?: () => Promise<void>
  open: () => Opened
  close: (opened: Opened) => Promise<void>
}> = [
  {
    name: 'memory',
    skip: false,
    open: () => ({ callers: [new MemoryQuotaStore()] }),
    close: async () => {},
  },
  {
    name: 'Redis',
    skip: skipRedis,
    before: async () => {
      // Five connections: concurrent callers really race inside Redis, not in one client's pipeline.
      for (let i = 0; i < 5; i++) clients.push(new Redis(TEST_REDIS_URL))
    },
    after: async () => {
      for (const client of clients) client.disconnect()
    },
    open: () => {
      const prefix = uniquePrefix()
      return { prefix, callers: clients.map((client) => new RedisQuotaStore(client, prefix)) }
    },
    close: (opened) => deleteKeys(opened.prefix!),
  },
]

for (const impl of implementations) {
  describe(`QuotaStore contract: ${impl.name}`, { skip: impl.skip }, () => {
    let opened: Opened
    let store: QuotaStore
    if (impl.before) before(impl.before)
    if (impl.after) after(impl.after)

    /** The test's body with a fresh count (its own key prefix in Redis), removed afterwards. */
    const withStore = (body: () => Promise<void>) => async () => {
      opened = impl.open()
      store = opened.callers[0]!
      try {
        await body()
      } finally {
        await impl.close(opened)
      }
    }

    test(
      'counts exactly: what fits is allowed, what would pass the limit is refused and counts nothing',
      withStore(async () => {
        assert.deepEqual(await store.reserve(1, 60, 100, NOON), { allowed: true, used: 60 })
        assert.deepEqual(await store.reserve(1, 41, 100, NOON), {
          allowed: false,
          used: 60,
          retryAfterSeconds: 12 * 3600,
        })
        assert.deepEqual(await store.reserve(1, 40, 100, NOON), { allowed: true, used: 100 })
        assert.deepEqual(await store.reserve(1, 1, 100, NOON), {
          allowed: false,
          used: 100,
          retryAfterSeconds: 12 * 3600,
        })
        assert.deepEqual(
          await store.reserve(1, 0, 100, NOON),
          { allowed: true, used: 100 },
          'nothing more always fits',
        )
        assert.deepEqual(
          await store.reserve(1, 10, 110, NOON),
          { allowed: true, used: 110 },
          'the limit is the one asked for now (a raised quota applies at once)',
        )
        assert.deepEqual(await store.reserve(2, 101, 100, NOON), {
          allowed: false,
          used: 0,
          retryAfterSeconds: 12 * 3600,
        })
      }),
    )

    test(
      'each project has its own count',
      withStore(async () => {
        assert.equal((await store.reserve(1, 100, 100, NOON)).allowed, true)
        assert.equal((await store.reserve(1, 1, 100, NOON)).allowed, false)
        assert.deepEqual(await store.reserve(2, 100, 100, NOON), { allowed: true, used: 100 })
        assert.deepEqual(await store.reserve(3, 5, 100, NOON), { allowed: true, used: 5 })
        assert.equal((await store.reserve(1, 1, 100, NOON)).allowed, false, 'others did not free 1')
      }),
    )

    test(
      'the day rolls over at UTC midnight, and yesterday keeps its own count',
      withStore(async () => {
        const lastMs = MARCH_2 - 1
        assert.deepEqual(await store.reserve(1, 100, 100, lastMs), { allowed: true, used: 100 })
        assert.deepEqual(await store.reserve(1, 1, 100, lastMs), {
          allowed: false,
          used: 100,
          retryAfterSeconds: 1,
        })
        assert.deepEqual(await store.reserve(1, 100, 100, MARCH_2), { allowed: true, used: 100 })
        assert.deepEqual(
          await store.reserve(1, 1, 100, lastMs),
          { allowed: false, used: 100, retryAfterSeconds: 1 },
          'a request of 23:59:59.999 that arrives late still counts against March 1',
        )
        assert.deepEqual(await store.reserve(1, 7, 100, Date.UTC(2024, 2, 3, 0, 0, 0, 1)), {
          allowed: true,
          used: 7,
        })
      }),
    )

    test(
      'retryAfterSeconds is the seconds to the next UTC midnight, rounded up, at least 1',
      withStore(async () => {
        const cases: Array<[number, number]> = [
          [MARCH_1, 86_400],
          [MARCH_1 + 1, 86_400],
          [MARCH_1 + 999, 86_400],
          [MARCH_1 + 1_000, 86_399],
          [NOON, 43_200],
          [MARCH_2 - 1_500, 2],
          [MARCH_2 - 1_000, 1],
          [MARCH_2 - 1, 1],
          [Date.UTC(2024, 1, 29, 23, 0), 3_600], // a leap day ends like any other
        ]
        for (const [nowMs, seconds] of cases) {
          const decision = await store.reserve(1, 1, 0, nowMs)
          assert.deepEqual(
            decision,
            { allowed: false, used: 0, retryAfterSeconds: seconds },
            new Date(nowMs).toISOString(),
          )
        }
      }),
    )

    test(
      'release gives back, never below zero, and only to the day it names',
      withStore(async () => {
        await store.reserve(1, 80, 100, NOON)
        await store.release(1, 30, NOON)
        assert.deepEqual(await store.reserve(1, 50, 100, NOON), { allowed: true, used: 100 })
        await store.release(1, 1_000, NOON)
        assert.deepEqual(
          await store.reserve(1, 100, 100, NOON),
          { allowed: true, used: 100 },
          'a release of more than was counted leaves zero, not a credit',
        )
        await store.release(1, 40, MARCH_2)
        assert.deepEqual(
          await store.reserve(1, 1, 100, NOON),
          { allowed: false, used: 100, retryAfterSeconds: 12 * 3600 },
          'a release for March 2 does not free March 1',
        )
        assert.deepEqual(
          await store.reserve(1, 5, 100, MARCH_2),
          { allowed: true, used: 5 },
          'nor leave March 2 a credit',
        )
        await store.release(2, 10, NOON)
        assert.deepEqual(await store.reserve(2, 3, 100, NOON), { allowed: true, used: 3 })
      }),
    )

    test(
      'concurrent reservations from many callers never pass the limit',
      withStore(async () => {
        const { callers } = opened
        const decisions = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            callers[i % callers.length]!.reserve(1, 7, 100, NOON),
          ),
        )
        const allowed = decisions.filter((d) => d.allowed)
        assert.equal(allowed.length, 14)
        assert.deepEqual(
          allowed.map((d) => d.used).sort((a, b) => a - b),
          Array.from({ length: 14 }, (_, i) => 7 * (i + 1)),
          'each allowed reservation saw a distinct count',
        )
        for (const d of decisions.filter((d) => !d.allowed)) assert.equal(d.used, 98)
        assert.deepEqual(await store.reserve(1, 2, 100, NOON), { allowed: true, used: 100 })
      }),
    )

    test(
      'concurrent reserves and releases add up',
      withStore(async () => {
        const { callers } = opened
        await store.reserve(1, 500, 1_000, NOON)
        await Promise.all(
          Array.from({ length: 40 }, (_, i) => {
            const caller = callers[i % callers.length]!
            return i % 2 === 0 ? caller.reserve(1, 10, 1_000, NOON) : caller.release(1, 10, NOON)
          }),
        )
        assert.deepEqual(await store.reserve(1, 0, 1_000, NOON), { allowed: true, used: 500 })
      }),
    )

    test(
      'a count that is not a whole non-negative number is refused before anything is counted',
      withStore(async () => {
        for (const events of [-1, 1.5, Number.NaN]) {
          await assert.rejects(store.reserve(1, events, 100, NOON), RangeError)
          await assert.rejects(store.release(1, events, NOON), RangeError)
        }
        await assert.rejects(store.reserve(1, 1, -1, NOON), RangeError)
        assert.deepEqual(await store.reserve(1, 0, 100, NOON), { allowed: true, used: 0 })
      }),
    )
  })
}

describe('MemoryQuotaStore memory', () => {
  test('forgets days before yesterday, so a long-running process holds two days at most', async () => {
    const store = new MemoryQuotaStore()
    const day = (n: number) => MARCH_1 + n * 86_400_000 + HOUR_MS
    await store.reserve(1, 100, 100, day(0))
    await store.reserve(1, 100, 100, day(1))
    await store.reserve(1, 100, 100, day(2))
    assert.equal((await store.reserve(1, 1, 100, day(1))).allowed, false, 'yesterday is kept')
    assert.deepEqual(
      await store.reserve(1, 1, 100, day(0)),
      { allowed: true, used: 1 },
      'the day before is forgotten',
    )
    assert.deepEqual(
      await store.reserve(1, 1, 100, day(0)),
      { allowed: true, used: 1 },
      'and a straggler from it is not kept either',
    )
  })
})

describe('RedisQuotaStore keys', { skip: skipRedis }, () => {
  const prefix = uniquePrefix()
  const redis = new Redis(TEST_REDIS_URL)
  const store = new RedisQuotaStore(redis, prefix)
  after(async () => {
    redis.disconnect()
    await deleteKeys(prefix)
  })

  test('one key per project and UTC day, expiring two days after its day ends', async () => {
    await store.reserve(7, 3, 100, NOON)
    const key = `${prefix}quota:7:2024-03-01`
    assert.equal(await redis.get(key), '3')
    const expected = MARCH_2 - NOON + 2 * 86_400_000
    const ttl = await redis.pttl(key)
    assert.ok(ttl <= expected && ttl > expected - 60_000, `pttl ${ttl}, expected about ${expected}`)
    await store.release(7, 1, NOON)
    assert.ok((await redis.pttl(key)) > expected - 60_000, 'a release keeps the expiry')
  })

  test('refusals and releases of uncounted days leave no key behind', async () => {
    await store.reserve(8, 5, 1, NOON)
    await store.release(9, 5, NOON)
    assert.deepEqual(await redis.keys(`${prefix}quota:8:*`), [])
    assert.deepEqual(await redis.keys(`${prefix}quota:9:*`), [])
  })
})
