import { randomUUID } from 'node:crypto'
import type { EventInput, NormalizedEvent, ProjectEvent } from '../../src/events/event-schema.ts'
import { DEFAULT_PROJECT_ID } from '../../src/projects/project-store.ts'

export function makeEvent(overrides: Partial<EventInput> = {}): EventInput {
  return {
    event_id: randomUUID(),
    occurred_at: '2026-11-01T12:00:00.000Z',
    user_id: 'user-1',
    event_type: 'page_view',
    properties: { page: '/home' },
    ...overrides,
  }
}

export function makeEvents(n: number, overrides: Partial<EventInput> = {}): EventInput[] {
  return Array.from({ length: n }, (_, i) => makeEvent({ user_id: `user-${i % 97}`, ...overrides }))
}

/** The events as the store keeps them: in `project` (the default one unless named). */
export function inProject(
  events: readonly NormalizedEvent[],
  project: number = DEFAULT_PROJECT_ID,
): ProjectEvent[] {
  return events.map((e) => ({ ...e, project_id: project }))
}

/**
 * Probes until `done`; the deadline only bounds a hang (a loaded machine can be
 * ten times slower than an idle one), so it is generous.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs = 60_000,
  intervalMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: T
  do {
    last = await probe()
    if (done(last)) return last
    await new Promise((r) => setTimeout(r, intervalMs))
  } while (Date.now() < deadline)
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}; last value: ${JSON.stringify(last)}`,
  )
}
