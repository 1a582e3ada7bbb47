import { AppError } from '../errors.ts'
import type { QuotaStore } from '../http/quota/quota-store.ts'
import type { Logger } from '../logger.ts'
import type { Project } from '../projects/project-store.ts'

export interface QuotaObserver {
  quotaRefused(project: string, events: number): void
}

/** Gives back what was reserved but not accepted after all. */
export type GiveBack = (events: number) => Promise<void>

const nothing: GiveBack = async () => {}

/**
 * A project's events/day quota on intake: the events a request would add are
 * counted before they are queued or stored, and a request that would pass the
 * quota is refused whole (429 until the next UTC midnight), so a client's
 * retry tomorrow sends the same batch again, not a remainder.
 */
export class ProjectQuota {
  private lastError = 0

  constructor(
    private readonly store: QuotaStore,
    private readonly log: Logger,
    private readonly observer: QuotaObserver,
  ) {}

  async take(
    project: Pick<Project, 'id' | 'name' | 'events_per_day'>,
    events: number,
  ): Promise<GiveBack> {
    const limit = project.events_per_day
    if (limit === null || events === 0) return nothing
    const now = Date.now()
    let decision: Awaited<ReturnType<QuotaStore['reserve']>>
    try {
      decision = await this.store.reserve(project.id, events, limit, now)
    } catch (err) {
      // As the rate limiter: a quota that cannot be counted must not stop intake.
      if (now - this.lastError > 5_000) {
        this.lastError = now
        this.log.warn({ err: (err as Error).message }, 'quota store unavailable; not counting')
      }
      return nothing
    }
    if (!decision.allowed) {
      this.observer.quotaRefused(project.name, events)
      throw new AppError(
        429,
        'QUOTA_EXCEEDED',
        `project "${project.name}" has accepted ${decision.used} of its ${limit} events for today (UTC); these ${events} would pass it. Retry in ${decision.retryAfterSeconds} s, after midnight UTC`,
        { headers: { 'retry-after': String(decision.retryAfterSeconds) } },
      )
    }
    return async (unused) => {
      if (unused > 0) await this.store.release(project.id, unused, now).catch(() => {})
    }
  }
}
