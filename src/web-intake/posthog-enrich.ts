import type { Draft } from '../compat/intake.ts'
import { isRecord } from '../compat/message-fields.ts'
import type { Enricher } from './enrich.ts'
import { isBot } from './user-agent.ts'

/**
 * posthog-js's events (`$lib` "web") get what /collect's get: `browser`, `os`,
 * `device` (and `country`) from the request, where the event lacks them, so
 * the web panels read one set of names; from a known bot they are dropped (a
 * warning with reason "bot", like /collect's). Server SDKs' events are left as
 * they are: their User-Agent is the SDK's, not a browser's.
 */
export function enrichPosthogDrafts(
  drafts: Draft[],
  userAgent: string | undefined,
  ip: string,
  enricher: Enricher,
  onBots: (count: number) => void,
): Draft[] {
  let facts: ReturnType<Enricher['facts']> | undefined
  let bots = 0
  const out = drafts.map((draft): Draft => {
    if ('rejected' in draft || !draft.event || !isRecord(draft.event.properties)) return draft
    const properties = draft.event.properties
    if (properties.$lib !== 'web') return draft
    if (isBot(userAgent)) {
      bots++
      return {
        id: draft.id,
        rejected: {
          reason: 'bot',
          errors: [{ field: 'User-Agent', message: 'is a known bot or crawler' }],
        },
      }
    }
    facts ??= enricher.facts(userAgent!, ip)
    const added = Object.fromEntries(
      Object.entries(facts).filter(([name]) => properties[name] === undefined),
    )
    return { ...draft, event: { ...draft.event, properties: { ...properties, ...added } } }
  })
  if (bots > 0) onBots(bots)
  return out
}
