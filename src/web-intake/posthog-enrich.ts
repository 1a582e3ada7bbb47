import type { Draft } from '../compat/intake.ts'
import { isRecord } from '../compat/message-fields.ts'
import { type Enricher, referrerHost } from './enrich.ts'
import { isBot } from './user-agent.ts'

// posthog-js's names for what our script sends; "$direct" is its "no referrer".
const WEB_NAMES: Array<[ours: string, posthog: string]> = [
  ['path', '$pathname'],
  ['referrer', '$referrer'],
  ['screen_width', '$screen_width'],
  ['language', '$browser_language'],
]
const DIRECT = '$direct'

/** The script's names (path, referrer, referrer_host, …) beside posthog-js's own, where the event lacks them. */
function webNames(
  eventType: unknown,
  properties: Record<string, unknown>,
): Record<string, unknown> {
  const added: Record<string, unknown> = {}
  for (const [ours, theirs] of WEB_NAMES) {
    const value = properties[theirs]
    if (properties[ours] === undefined && value !== undefined && value !== DIRECT)
      added[ours] = value
  }
  if (eventType === '$pageview' && properties.referrer_host === undefined)
    added.referrer_host = referrerHost(properties.referrer ?? added.referrer)
  return added
}

/**
 * posthog-js's events (`$lib` "web") get what /collect's get: `browser`, `os`,
 * `device` (and `country`) from the request, and the script's property names
 * (webNames), where the event lacks them, so the web panels read one set of
 * names and count its `$pageview`s; from a known bot they are dropped (a
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
    const named = webNames(draft.event.event_type, properties)
    return {
      ...draft,
      event: { ...draft.event, properties: { ...properties, ...added, ...named } },
    }
  })
  if (bots > 0) onBots(bots)
  return out
}
