import assert from 'node:assert/strict'
import { test } from 'node:test'
import { type ApiKeyStore, hashKey, type Scope } from '../../src/auth/api-keys.ts'
import { Authenticator } from '../../src/auth/authenticator.ts'

// The caching and outage rules are pure logic; the key table itself is tested
// against real databases in test/http/access-control.test.ts.
function fakeStore(keys: Record<string, Scope>) {
  const state = { down: false, lookups: 0, existsQueries: 0 }
  const store = {
    async anyEverCreated() {
      state.existsQueries++
      await new Promise((r) => setImmediate(r))
      if (state.down) throw new Error('connect ECONNREFUSED')
      return Object.keys(keys).length > 0
    },
    async findActive(digest: Buffer) {
      if (state.down) throw new Error('connect ECONNREFUSED')
      state.lookups++
      const key = Object.keys(keys).find((k) => hashKey(k).equals(digest))
      // Every key of the default project: the caching and outage rules do not depend on it.
      return key
        ? { id: `id-${key}`, scope: keys[key]!, project_id: 1, key_hash: hashKey(key) }
        : undefined
    },
  }
  return { store: store as unknown as ApiKeyStore, state }
}

test('a checked key is remembered for 10 s, then looked up again', async () => {
  let now = 0
  const { store, state } = fakeStore({ k1: 'read' })
  const auth = new Authenticator(store, undefined, () => now)
  assert.deepEqual(await auth.check('k1', 'read'), {
    ok: true,
    principal: { id: 'id-k1', scope: 'read', projectId: 1 },
  })
  await auth.check('k1', 'read')
  assert.equal(state.lookups, 1)
  now = 10_001
  await auth.check('k1', 'read')
  assert.equal(state.lookups, 2)
})

test('while the database is down, what was known still decides; what was never seen fails', async () => {
  let now = 0
  const { store, state } = fakeStore({ k1: 'write' })
  const auth = new Authenticator(store, undefined, () => now)
  await auth.check('k1', 'write')
  state.down = true
  now = 60_000
  assert.equal((await auth.check('k1', 'write')).ok, true)
  assert.equal((await auth.check('k1', 'read')).ok, false)
  await assert.rejects(auth.check('never-seen', 'write'), /ECONNREFUSED/)
})

test('API_KEY is an admin key and closes the service even with no stored key', async () => {
  const { store } = fakeStore({})
  const auth = new Authenticator(store, 'an-admin-key-from-env')
  assert.equal(await auth.isOpen(), false)
  assert.deepEqual(await auth.check('an-admin-key-from-env', 'read'), {
    ok: true,
    // Service-wide: it belongs to no project.
    principal: { id: 'env', scope: 'admin', projectId: null },
  })
  assert.equal((await auth.check('wrong', 'read')).ok, false)
  assert.equal(await new Authenticator(store, undefined).isOpen(), true)
})

test('while open, every check reads the key table: the first key closes the service at once', async () => {
  const keys: Record<string, Scope> = {}
  const { store } = fakeStore(keys)
  const auth = new Authenticator(store, undefined, () => 0)
  assert.deepEqual(await auth.check(undefined, 'write'), { ok: true, principal: undefined })
  keys.k1 = 'admin'
  assert.deepEqual(await auth.check(undefined, 'write'), {
    ok: false,
    status: 401,
    reason: 'an API key is required (Authorization: Bearer <key> or X-API-Key)',
  })
})

test('closed stays closed without asking again, even with the database down; open stays open through an outage', async () => {
  const closedStore = fakeStore({ k1: 'read' })
  const closed = new Authenticator(closedStore.store, undefined)
  assert.equal(await closed.isOpen(), false)
  closedStore.state.down = true
  const asked = closedStore.state.existsQueries
  assert.equal(await closed.isOpen(), false)
  assert.equal((await closed.check(undefined, 'read')).ok, false)
  assert.equal(closedStore.state.existsQueries, asked)

  const openStore = fakeStore({})
  const open = new Authenticator(openStore.store, undefined)
  assert.equal(await open.isOpen(), true)
  openStore.state.down = true
  assert.equal(await open.isOpen(), true)
  await assert.rejects(
    new Authenticator(openStore.store, undefined).isOpen(),
    /ECONNREFUSED/,
    'never known: the outage is the answer',
  )
})

test('a burst of key-less requests on an open service shares the reads, none older than its request', async () => {
  const { store, state } = fakeStore({})
  const auth = new Authenticator(store, undefined)
  const verdicts = await Promise.all(
    Array.from({ length: 50 }, () => auth.check(undefined, 'write')),
  )
  assert.ok(verdicts.every((v) => v.ok))
  assert.equal(
    state.existsQueries,
    2,
    'the one in flight, and one after it for everyone who came meanwhile',
  )
})

test('a flood of unknown keys does not push a known key out of the cache', async () => {
  const { store, state } = fakeStore({ good: 'write' })
  const auth = new Authenticator(store, undefined, () => 0)
  await auth.check('good', 'write')
  for (let i = 0; i < 12_000; i++) await auth.check(`wrong-${i}`, 'write')
  const before = state.lookups
  assert.equal((await auth.check('good', 'write')).ok, true)
  assert.equal(state.lookups, before, 'still cached')
})
