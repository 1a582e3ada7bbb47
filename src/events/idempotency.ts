import { createHash } from 'node:crypto'
import type { SqlClient } from '../store/sql-client.ts'

export const KEEP_HOURS = 24
// Printable ASCII, as the IETF Idempotency-Key draft allows, bounded in length.
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/

export type Claim =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; response: unknown }
  | { kind: 'in-progress' }
  | { kind: 'mismatch' }

export function bodyDigest(body: unknown): Buffer {
  return createHash('sha256')
    .update(JSON.stringify(body) ?? '')
    .digest()
}

/**
 * Idempotency keys in the event store's database, so every API process sees
 * the same ones. The primary key decides between two requests racing with one
 * key: exactly one inserts its claim.
 */
export class IdempotencyStore {
  private lastPurge = 0

  constructor(private readonly db: SqlClient) {}

  // Keys are per project as well as per owner: a service-wide key, or the
  // keyless service, sends to several projects, and the same key there is two requests.
  async claim(project: number, owner: string, key: string, digest: Buffer): Promise<Claim> {
    await this.purgeNowAndThen()
    const inserted = await this.db.query(
      `INSERT INTO idempotency_keys (project_id, owner, key, body_sha256) VALUES ($4, $1, $2, $3) ON CONFLICT (project_id, owner, key) DO NOTHING`,
      [owner, key, digest, project],
    )
    if (inserted.rowCount === 1) return { kind: 'claimed' }
    const { rows } = await this.db.query<{
      body_sha256: Uint8Array
      status: number | null
      response: unknown
    }>(
      'SELECT body_sha256, status, response FROM idempotency_keys WHERE owner = $1 AND key = $2 AND project_id = $3',
      [owner, key, project],
    )
    const row = rows[0]
    if (!row) return this.claim(project, owner, key, digest) // released between our two statements: try again
    if (!Buffer.from(row.body_sha256).equals(digest)) return { kind: 'mismatch' }
    if (row.status === null) return { kind: 'in-progress' }
    return { kind: 'replay', status: row.status, response: row.response }
  }

  async complete(
    project: number,
    owner: string,
    key: string,
    status: number,
    response: unknown,
  ): Promise<void> {
    await this.db.query(
      'UPDATE idempotency_keys SET status = $3, response = $4 WHERE owner = $1 AND key = $2 AND project_id = $5',
      [owner, key, status, JSON.stringify(response), project],
    )
  }

  /** The request failed before it was done: a retry with the key must run again. */
  async release(project: number, owner: string, key: string): Promise<void> {
    await this.db.query(
      'DELETE FROM idempotency_keys WHERE owner = $1 AND key = $2 AND project_id = $3 AND status IS NULL',
      [owner, key, project],
    )
  }

  private async purgeNowAndThen(): Promise<void> {
    if (Date.now() - this.lastPurge < 3_600_000) return
    this.lastPurge = Date.now()
    await this.db.query(
      `DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(hours => $1)`,
      [KEEP_HOURS],
    )
  }
}
