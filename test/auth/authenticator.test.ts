import assert from 'node:assert/strict'
import { test } from 'node:test'
import { hashKey, type ApiKeyStore, type Scope } from '../../src/auth/api-keys.ts'
import { Authenticator } from '../../src/auth/authenticator.ts'

// The caching and outage rules are pure logic; the key table itself is tested
// against real databases in test/http/access-control.test.ts.
function fakeStore(keys: Record<string, Scope>) {
  const state = { down: false, lookups: 0 }
  const store = {
    async anyEverCreated() {
      if (state.down) throw new Error('connect ECONNREFUSED')
      return Object.keys(keys).length > 0
    },
    async findActive(digest: Buffer) {
      if (state.down) throw new Error('connect ECONNREFUSED')
      state.lookups++
      const key = Object.keys(keys).find((k) => hashKey(k).equals(digest))
      return key ? { id: `id-${key}`, scope: keys[key]!, key_hash: hashKey(key) } : undefined
    },
  }
  return { store: store as unknown as ApiKeyStore, state }
}

test('a checked key is remembered for 10 s, then looked up again', async () => {
  let now = 0
  const { store, state } = fakeStore({ k1: 'read' })
  const auth = new Authenticator(store, undefined, () => now)
  assert.deepEqual(await auth.check('k1', 'read'), { ok: true, principal: { id: 'id-k1', scope: 'read' } })
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
  assert.deepEqual(await auth.check('an-admin-key-from-env', 'read'), { ok: true, principal: { id: 'env', scope: 'admin' } })
  assert.equal((await auth.check('wrong', 'read')).ok, false)
  assert.equal(await new Authenticator(store, undefined).isOpen(), true)
})
