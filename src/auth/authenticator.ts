import { timingSafeEqual } from 'node:crypto'
import { type ApiKeyStore, hashKey, type RouteKeyScope, type Scope } from './api-keys.ts'

export interface Principal {
  /** stable id for rate limiting and logs: the key's id, or "env" for API_KEY */
  id: string
  scope: Scope
  /** the key's project; null for a service-wide admin key (API_KEY is one) */
  projectId: number | null
}

export type Verdict =
  | { ok: true; principal: Principal | undefined }
  | { ok: false; status: 401 | 403; reason: string }

// Checked keys are remembered briefly so a request costs no query; a revoked
// key therefore stops working within this time on every API process. While the
// database is unreachable, what was last known is used instead: ingestion
// through the queue must not stop because the key table cannot be read.
// Unknown keys are remembered apart, in fewer entries: a flood of wrong keys
// must not push the real ones out and send every good request to the database.
const CACHE_MS = 10_000
const CACHE_MAX = 10_000
const UNKNOWN_MAX = 1_000

/**
 * Decides who a request is and whether its scope allows the route. With no key
 * configured at all (no API_KEY, and no key ever created) everything is open.
 */
export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal | undefined; at: number }>()
  private readonly unknown = new Map<string, { principal: undefined; at: number }>()
  /** once true, for good: keys are revoked, never deleted, so nothing can open the service again */
  private closed: boolean | undefined
  private running: Promise<boolean> | undefined
  private waiting: Promise<boolean> | undefined
  private readonly envDigest: Buffer | undefined

  constructor(
    private readonly store: ApiKeyStore,
    envKey: string | undefined,
    private readonly now: () => number = Date.now,
  ) {
    this.envDigest = envKey ? hashKey(envKey) : undefined
  }

  /**
   * While the service is open the key table is asked on every request, so the
   * first key created (by any process, the CLI included) closes every API
   * process before its next request. That is one cheap EXISTS per request, and
   * only on a service nobody has secured yet. Once closed it stays closed
   * without asking again, so no database outage can open it; an outage while
   * open keeps it open (known, not guessed), as ingestion must go on.
   */
  async isOpen(): Promise<boolean> {
    if (this.envDigest || this.closed) return false
    try {
      this.closed = await this.freshKeyCheck()
    } catch (err) {
      if (this.closed === undefined) throw err
    }
    return !this.closed
  }

  /**
   * A check that started after this call: requests that arrive while one is
   * in flight share the next one, so a burst costs two queries, not one each,
   * and none is answered from a read older than itself.
   */
  private freshKeyCheck(): Promise<boolean> {
    if (!this.running) return this.startKeyCheck()
    this.waiting ??= this.running
      .then(
        () => {},
        () => {},
      )
      .then(() => {
        this.waiting = undefined
        return this.startKeyCheck()
      })
    return this.waiting
  }

  private startKeyCheck(): Promise<boolean> {
    const check: Promise<boolean> = this.store.anyEverCreated().finally(() => {
      if (this.running === check) this.running = undefined
    })
    this.running = check
    return check
  }

  /** `acceptsPublic`: the route is an ingestion route, which a public key (and a write key) may reach. */
  async check(
    presented: string | undefined,
    required: RouteKeyScope,
    acceptsPublic = false,
  ): Promise<Verdict> {
    if (await this.isOpen()) return { ok: true, principal: undefined }
    if (!presented)
      return {
        ok: false,
        status: 401,
        reason: 'an API key is required (Authorization: Bearer <key> or X-API-Key)',
      }
    const principal = await this.identify(presented)
    if (!principal) return { ok: false, status: 401, reason: 'unknown or revoked API key' }
    const allowed =
      principal.scope === 'admin' ||
      principal.scope === required ||
      (principal.scope === 'public' && acceptsPublic)
    if (!allowed) {
      return {
        ok: false,
        status: 403,
        reason: `this key's scope is ${principal.scope}; the route needs ${required}`,
      }
    }
    return { ok: true, principal }
  }

  /** Whether this key is known to be valid without asking the database (API_KEY, or cached). */
  knownValid(presented: string): boolean {
    const digest = hashKey(presented)
    if (this.envDigest && timingSafeEqual(digest, this.envDigest)) return true
    const hit = this.cache.get(digest.toString('base64'))
    return hit?.principal !== undefined && this.now() - hit.at <= CACHE_MS
  }

  private async identify(presented: string): Promise<Principal | undefined> {
    const digest = hashKey(presented)
    if (this.envDigest && timingSafeEqual(digest, this.envDigest))
      return { id: 'env', scope: 'admin', projectId: null }
    const cacheKey = digest.toString('base64')
    const t = this.now()
    const hit = this.cache.get(cacheKey) ?? this.unknown.get(cacheKey)
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
    const principal =
      row && timingSafeEqual(row.key_hash, digest)
        ? { id: row.id, scope: row.scope, projectId: row.project_id }
        : undefined
    if (principal) {
      if (this.cache.size >= CACHE_MAX) this.cache.clear()
      this.cache.set(cacheKey, { principal, at: t })
      this.unknown.delete(cacheKey)
    } else {
      if (this.unknown.size >= UNKNOWN_MAX) this.unknown.clear()
      this.unknown.set(cacheKey, { principal, at: t })
      this.cache.delete(cacheKey)
    }
    return principal
  }
}
