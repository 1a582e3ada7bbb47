import { createHash } from 'node:crypto'
import type { DailySalt } from './visitor-salt.ts'

/**
 * The cookieless visitor id: a digest of the day's salt, the project, the
 * client address and the User-Agent. The same browser on the same network is
 * one visitor for the day, with nothing stored in the browser; the address
 * itself is never stored, and once the salt is gone (at the day's end) the id
 * cannot be traced back to it, even by guessing addresses.
 */
export async function hashedVisitorId(
  salts: DailySalt,
  project: number,
  ip: string,
  userAgent: string,
  receivedMs: number,
): Promise<string> {
  const day = new Date(receivedMs).toISOString().slice(0, 10)
  const salt = await salts.saltOf(day)
  const digest = createHash('sha256')
    .update(salt)
    .update(`\u0000${project}\u0000${ip}\u0000${userAgent}`, 'utf8')
    .digest('base64url')
  // 128 bits: no two visitors of a project share one in practice.
  return `v_${digest.slice(0, 22)}`
}
