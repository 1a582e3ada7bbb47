import { WeightedPicker } from './dataset.ts'
import type { Weighted } from './vocabulary.ts'

// What the browser script (and posthog-js) put on a page_view, for the
// realistic data set (realistic.ts): the page's title and host, the
// referrer as a full URL ('' for none) and its host, utm_medium beside the
// visit's utm_source and utm_campaign, the screen width and language, and
// browser, os and device as three flat strings. Only the first page view of
// a visit comes from outside; later ones were referred by the site itself,
// so the sources of /stats/web/breakdown are read from a visit's first view.

export const SITE = 'www.example.com'

/** The short referrer names of vocabulary.ts as the hosts a browser would report. */
const REFERRER_HOSTS: Record<string, string> = {
  direct: '',
  google: 'www.google.com',
  bing: 'www.bing.com',
  duckduckgo: 'duckduckgo.com',
  facebook: 'l.facebook.com',
  'x.com': 't.co',
  linkedin: 'www.linkedin.com',
  reddit: 'www.reddit.com',
  'news.ycombinator.com': 'news.ycombinator.com',
  youtube: 'www.youtube.com',
  github: 'github.com',
  producthunt: 'www.producthunt.com',
  yahoo: 'search.yahoo.com',
}

const UTM_MEDIUMS: Record<string, string> = {
  google: 'cpc',
  newsletter: 'email',
  facebook: 'social',
  linkedin: 'social',
  x: 'social',
  partner: 'referral',
  reddit: 'social',
  bing: 'cpc',
}

const SCREENS: Record<string, Weighted<number>> = {
  desktop: [
    [1920, 40],
    [1536, 15],
    [1440, 15],
    [1366, 12],
    [2560, 10],
    [1280, 8],
  ],
  mobile: [
    [390, 30],
    [393, 20],
    [414, 15],
    [360, 20],
    [430, 15],
  ],
  tablet: [
    [810, 40],
    [768, 30],
    [820, 20],
    [1024, 10],
  ],
}
const LANGUAGES: Weighted = [
  ['en-US', 45],
  ['en-GB', 10],
  ['de-DE', 8],
  ['uk-UA', 6],
  ['pl-PL', 5],
  ['fr-FR', 6],
  ['pt-BR', 6],
  ['es-ES', 5],
  ['ja-JP', 5],
  ['hi-IN', 4],
]

class Pick<T> {
  private readonly picker: WeightedPicker
  constructor(private readonly values: Weighted<T>) {
    this.picker = new WeightedPicker(values.map(([, w]) => w))
  }
  next(): T {
    return this.values[this.picker.pick()]![0]
  }
}
const screens = Object.fromEntries(Object.entries(SCREENS).map(([k, v]) => [k, new Pick(v)]))
const languages = new Pick(LANGUAGES)

/** A visitor's screen and language, the same on all their page views. */
export function webVisitor(deviceType: string): { screen_width: number; language: string } {
  return {
    screen_width: (screens[deviceType] ?? screens.desktop!).next(),
    language: languages.next(),
  }
}

/** A page view's web properties. `previous` is the visit's previous page view's path (none for the first). */
export function webPageView(
  path: string,
  visit: { referrer?: string; utm_source?: string },
  previous: string | undefined,
  visitor: { screen_width: number; language: string; browser: string; os: string; type: string },
): Record<string, unknown> {
  const host =
    previous !== undefined
      ? SITE
      : visit.referrer !== undefined
        ? (REFERRER_HOSTS[visit.referrer] ?? visit.referrer)
        : ''
  return {
    title: `${path.split('/').filter(Boolean).join(' · ') || 'Home'} | Example`,
    host: SITE,
    referrer:
      previous !== undefined ? `https://${SITE}${previous}` : host ? `https://${host}/` : '',
    referrer_host: host,
    ...(visit.utm_source ? { utm_medium: UTM_MEDIUMS[visit.utm_source] ?? 'referral' } : {}),
    screen_width: visitor.screen_width,
    language: visitor.language,
    browser: visitor.browser,
    os: visitor.os,
    device: visitor.type,
  }
}

/** For the SQL seed (seed-realistic.ts): hosts aligned with `referrers`, mediums with `sources`, and the screens and languages. */
export function webSeedArrays(referrers: readonly string[], sources: readonly string[]) {
  return {
    hosts: referrers.map((r) => REFERRER_HOSTS[r] ?? r),
    mediums: sources.map((s) => UTM_MEDIUMS[s] ?? 'referral'),
    screens: Object.values(SCREENS).flatMap((list) => list.map(([w]) => w)),
    languages: LANGUAGES.map(([l]) => l),
  }
}
