import type { CountryLookup } from './geoip.ts'
import { agentOf } from './user-agent.ts'

/** What the server adds to a browser event: the client's browser, OS, device class and (with GeoIP) country. */
export interface ClientFacts {
  browser: string
  os: string
  device: string
  country?: string
}

export class Enricher {
  constructor(private readonly geo: CountryLookup | undefined) {}

  facts(userAgent: string, ip: string): ClientFacts {
    const country = this.geo?.country(ip)
    return { ...agentOf(userAgent), ...(country ? { country } : {}) }
  }
}

/** The host of a referrer URL, '' when there is none or it is not a URL. */
export function referrerHost(referrer: unknown): string {
  if (typeof referrer !== 'string' || referrer === '') return ''
  try {
    return new URL(referrer).hostname
  } catch {
    return ''
  }
}
