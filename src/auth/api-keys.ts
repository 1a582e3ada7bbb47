import { createHash, randomBytes } from 'node:crypto'
import type { SqlClient } from '../store/sql-client.ts'

export type Scope = 'read' | 'write' | 'admin'
export const SCOPES: readonly Scope[] = ['read', 'write', 'admin']

export interface ApiKeyInfo {
  id: string
  name: string
  scope: Scope
  key_prefix: string
  created_at: string
  revoked_at: string | null
}

const PREFIX_LENGTH = 12

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

  async create(scope: Scope, name = ''): Promise<{ key: string; info: ApiKeyInfo }> {
    const key = generateKey()
    const { rows } = await this.db.query<ApiKeyInfo>(
      `INSERT INTO api_keys (name, scope, key_hash, key_prefix) VALUES ($1, $2, $3, $4)
       RETURNING id::text, name, scope, key_prefix, created_at::text, revoked_at::text`,
      [name, scope, hashKey(key), key.slice(0, PREFIX_LENGTH)],
    )
    return { key, info: rows[0]! }
  }

  async list(): Promise<ApiKeyInfo[]> {
    const { rows } = await this.db.query<ApiKeyInfo>(
      'SELECT id::text, name, scope, key_prefix, created_at::text, revoked_at::text FROM api_keys ORDER BY created_at',
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
  ): Promise<{ id: string; scope: Scope; key_hash: Buffer } | undefined> {
    const { rows } = await this.db.query<{
      id: string
      scope: Scope
      key_hash: Buffer | Uint8Array
    }>(
      'SELECT id::text, scope, key_hash FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL',
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
