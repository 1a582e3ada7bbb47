import { timingSafeEqual } from 'node:crypto'
import { hashKey, type ApiKeyStore, type Scope } from './api-keys.ts'

export interface Principal {
  /** stable id for rate limiting and logs: the key's id, or "env" for API_KEY */
  id: string
  scope: Scope
}

export type Verdict = { ok: true; principal: Principal | undefined } | { ok: false; status: 401 | 403; reason: string }

// Checked keys are remembered briefly so a request costs no query; a revoked
// key therefore stops working within this time on every API process. While the
// database is unreachable, what was last known is used instead: ingestion
// through the queue must not stop because the key table cannot be read.
const CACHE_MS = 10_000
const CACHE_MAX = 10_000

/**
 * Decides who a request is and whether its scope allows the route. With no key
 * configured at all (no API_KEY, and no key ever created) everything is open.
 */
export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal | undefined; at: number }>()
  private keysExist: { value: boolean; at: number } | undefined
  private readonly envDigest: Buffer | undefined

  constructor(
    private readonly store: ApiKeyStore,
    envKey: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.envDigest = envKey ? hashKey(envKey) : undefined
  }

  async isOpen(recheck = false): Promise<boolean> {
    if (this.envDigest) return false
    const t = this.now()
    if (!this.keysExist || recheck || t - this.keysExist.at > CACHE_MS) {
      try {
        this.keysExist = { value: await this.store.anyEverCreated(), at: t }
      } catch (err) {
        if (!this.keysExist) throw err
      }
    }
    return !this.keysExist.value
  }

  async check(presented: string | undefined, required: Scope): Promise<Verdict> {
    // A client that presents a key while we believe no key exists makes us look
    // again at once: the first key created closes the service without delay.
    if (await this.isOpen(presented !== undefined && this.keysExist?.value === false)) return { ok: true, principal: undefined }
    if (!presented) return { ok: false, status: 401, reason: 'an API key is required (Authorization: Bearer <key> or X-API-Key)' }
    const principal = await this.identify(presented)
    if (!principal) return { ok: false, status: 401, reason: 'unknown or revoked API key' }
    if (principal.scope !== 'admin' && principal.scope !== required) {
      return { ok: false, status: 403, reason: `this key's scope is ${principal.scope}; the route needs ${required}` }
    }
    return { ok: true, principal }
  }

  private async identify(presented: string): Promise<Principal | undefined> {
    const digest = hashKey(presented)
    if (this.envDigest && timingSafeEqual(digest, this.envDigest)) return { id: 'env', scope: 'admin' }
    const cacheKey = digest.toString('base64')
    const t = this.now()
    const hit = this.cache.get(cacheKey)
    if (hit && t - hit.at <= CACHE_MS) return hit.principal
    let row
    try {
      row = await this.store.findActive(digest)
    } catch (err) {
      if (hit) return hit.principal
      throw err
    }
    // The index found it by digest; compare again in constant time so the
    // decision never depends on how many bytes matched.
    const principal = row && timingSafeEqual(row.key_hash, digest) ? { id: row.id, scope: row.scope } : undefined
    if (this.cache.size >= CACHE_MAX) this.cache.clear()
    this.cache.set(cacheKey, { principal, at: t })
    return principal
  }
}
