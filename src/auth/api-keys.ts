import { createHash, randomBytes } from 'node:crypto'
import type { SqlClient } from '../store/sql-client.ts'

/**
 * What a key may do. `public` is write-only and meant to be put in web pages
 * (like PostHog's project token): it reaches the ingestion routes alone, and
 * is limited per client address as well as per key (access-control.ts).
 */
export type Scope = 'read' | 'write' | 'admin' | 'public'
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin', 'public']
/** The scopes a route may ask for: no route asks for a public key, some accept one (`publicKeys`). */
export type RouteKeyScope = Exclude<Scope, 'public'>

export interface ApiKeyInfo {
  id: string
  name: string
  scope: Scope
  /** the project the key belongs to; null for a service-wide admin key */
  project_id: number | null
  key_prefix: string
  created_at: string
  revoked_at: string | null
}

const PREFIX_LENGTH = 12
const KEY_COLUMNS =
  'id::text, name, scope, project_id, key_prefix, created_at::text, revoked_at::text'

export function hashKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest()
}

/** A new key: 256 random bits, with a recognisable prefix so leaked keys can be found by scanners. */
export function generateKey(): string {
  return `ea_${randomBytes(32).toString('base64url')}`
}

/** API keys in the event store's database, digests only. */
export class ApiKeyStore {
  constructor(private readonly db: SqlClient) {}

  /**
   * A new key of `project`, or with null a service-wide one, which only an
   * admin key may be (the table checks it too).
   */
  async create(
    scope: Scope,
    name: string,
    project: number | null,
  ): Promise<{ key: string; info: ApiKeyInfo }> {
    if (project === null && scope !== 'admin')
      throw new Error(`a ${scope} key belongs to a project: name one`)
    const key = generateKey()
    const { rows } = await this.db.query<ApiKeyInfo>(
      `INSERT INTO api_keys (name, scope, key_hash, key_prefix, project_id) VALUES ($1, $2, $3, $4, $5)
       RETURNING ${KEY_COLUMNS}`,
      [name, scope, hashKey(key), key.slice(0, PREFIX_LENGTH), project],
    )
    return { key, info: rows[0]! }
  }

  /** Every key, or those of one project (service-wide keys are listed only with every key). */
  async list(project?: number): Promise<ApiKeyInfo[]> {
    const { rows } = await this.db.query<ApiKeyInfo>(
      `SELECT ${KEY_COLUMNS} FROM api_keys WHERE $1::int IS NULL OR project_id = $1 ORDER BY created_at`,
      [project ?? null],
    )
    return rows
  }

  /** Revokes by id or by key prefix; returns how many keys it revoked. */
  async revoke(idOrPrefix: string): Promise<number> {
    const { rowCount } = await this.db.query(
      `UPDATE api_keys SET revoked_at = now()
       WHERE revoked_at IS NULL AND (id::text = $1 OR key_prefix = $1)`,
      [idOrPrefix],
    )
    return rowCount
  }

  /** The active key with this digest, if any: one lookup on the unique index. */
  async findActive(
    digest: Buffer,
  ): Promise<
    { id: string; scope: Scope; project_id: number | null; key_hash: Buffer } | undefined
  > {
    const { rows } = await this.db.query<{
      id: string
      scope: Scope
      project_id: number | null
      key_hash: Buffer | Uint8Array
    }>(
      'SELECT id::text, scope, project_id, key_hash FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
      [digest],
    )
    const row = rows[0]
    return row && { ...row, key_hash: Buffer.from(row.key_hash) }
  }

  /** Whether any key was ever created: revoking the last one must not open the service again. */
  async anyEverCreated(): Promise<boolean> {
    const { rows } = await this.db.query<{ any: boolean }>(
      'SELECT EXISTS (SELECT 1 FROM api_keys) AS any',
    )
    return rows[0]!.any
  }
}
