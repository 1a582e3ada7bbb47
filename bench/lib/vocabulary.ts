// The realistic data set's values and their weights, shared by the JavaScript
// generator (realistic.ts) and the SQL one (seed-realistic.ts, which gets them
// as bound arrays), so both produce the same properties and cardinalities.

/** [value, weight]: drawn with probability proportional to the weight. */
export type Weighted<T = string> = ReadonlyArray<readonly [T, number]>

/** Zipf weights (exponent s) for ranks 1..n, e.g. a product site's event types or countries. */
export function zipf<T>(values: readonly T[], s = 1): Weighted<T> {
  return values.map((v, i) => [v, 1 / (i + 1) ** s] as const)
}

/** The extra property an event type carries besides the visit's ones. */
export type Extra = 'none' | 'amount' | 'n' | 'logged_in'

// 40 types, most common first, Zipf-weighted (s = 1): page_view ~23%, the last ~0.6%.
export const EVENT_TYPES: Weighted<readonly [type: string, extra: Extra]> = zipf([
  ['page_view', 'none'],
  ['click', 'logged_in'],
  ['scroll', 'n'],
  ['session_start', 'logged_in'],
  ['search', 'n'],
  ['product_view', 'amount'],
  ['add_to_cart', 'amount'],
  ['form_start', 'logged_in'],
  ['video_play', 'n'],
  ['login', 'logged_in'],
  ['form_submit', 'logged_in'],
  ['share', 'logged_in'],
  ['checkout_started', 'amount'],
  ['remove_from_cart', 'amount'],
  ['signup', 'logged_in'],
  ['purchase', 'amount'],
  ['video_complete', 'n'],
  ['download', 'logged_in'],
  ['comment', 'logged_in'],
  ['like', 'logged_in'],
  ['notification_open', 'logged_in'],
  ['filter_applied', 'n'],
  ['wishlist_add', 'amount'],
  ['coupon_applied', 'amount'],
  ['logout', 'logged_in'],
  ['invite_sent', 'n'],
  ['plan_viewed', 'amount'],
  ['trial_started', 'logged_in'],
  ['subscription_started', 'amount'],
  ['error', 'logged_in'],
  ['rage_click', 'n'],
  ['feedback', 'n'],
  ['onboarding_step', 'n'],
  ['settings_changed', 'logged_in'],
  ['api_key_created', 'logged_in'],
  ['export', 'n'],
  ['refund', 'amount'],
  ['subscription_cancelled', 'amount'],
  ['account_deleted', 'logged_in'],
  ['chat_opened', 'logged_in'],
] as const)

export const COUNTRIES: Weighted = zipf(
  [
    'US',
    'IN',
    'DE',
    'GB',
    'BR',
    'FR',
    'CA',
    'JP',
    'UA',
    'PL',
    'ES',
    'IT',
    'NL',
    'AU',
    'MX',
    'ID',
    'TR',
    'SE',
    'KR',
    'VN',
    'AR',
    'PH',
    'NG',
    'CH',
    'BE',
    'AT',
    'CZ',
    'RO',
    'PT',
    'IL',
    'DK',
    'FI',
  ],
  1.1,
)

export const BROWSERS: Weighted = zipf(
  [
    'Chrome 131',
    'Safari 18',
    'Chrome 130',
    'Edge 131',
    'Firefox 133',
    'Mobile Safari 18',
    'Samsung Internet 26',
    'Chrome 129',
    'Safari 17',
    'Opera 114',
    'Firefox 132',
    'Edge 130',
    'Chrome Mobile 131',
    'Brave 1.73',
    'Firefox ESR 128',
    'Vivaldi 7',
    'UC Browser 15',
    'Yandex 24',
    'Chrome 128',
    'Safari 16',
    'DuckDuckGo 5',
    'Arc 1.70',
    'Opera GX 114',
    'Edge 129',
  ],
  1.2,
)

/** device: {os, type}, the nested object of every event */
export const DEVICES: Weighted<readonly [os: string, type: string]> = [
  [['Windows', 'desktop'], 30],
  [['Android', 'mobile'], 25],
  [['iOS', 'mobile'], 20],
  [['macOS', 'desktop'], 12],
  [['iOS', 'tablet'], 5],
  [['Android', 'tablet'], 3],
  [['Linux', 'desktop'], 3],
  [['ChromeOS', 'desktop'], 2],
]

// Twelve sites and direct; a campaign visit (utm_*) carries no referrer instead.
export const REFERRERS: Weighted = [
  ['direct', 40],
  ['google', 30],
  ['bing', 4],
  ['duckduckgo', 3],
  ['facebook', 5],
  ['x.com', 3],
  ['linkedin', 3],
  ['reddit', 3],
  ['news.ycombinator.com', 2],
  ['youtube', 2],
  ['github', 2],
  ['producthunt', 1],
  ['yahoo', 2],
]
/** share of visits that come from a campaign link */
export const CAMPAIGN_SHARE = 0.15
export const UTM_SOURCES: Weighted = zipf([
  'google',
  'newsletter',
  'facebook',
  'linkedin',
  'x',
  'partner',
  'reddit',
  'bing',
])
export const UTM_CAMPAIGNS: Weighted = zipf(
  Array.from(
    { length: 40 },
    (_, i) =>
      `${['spring', 'summer', 'autumn', 'winter', 'launch'][i % 5]}_${['sale', 'promo', 'webinar', 'retarget', 'brand', 'trial', 'docs', 'blackfriday'][(i >> 2) & 7]}_${2025 + (i % 2)}`,
  ),
)

// Pages: a third of page events land on one of the site's fixed pages (Zipf:
// "/" is the top page), the rest on a long tail of product, blog, search and
// docs URLs whose rank follows a power law (a product of rank 1 is viewed far
// more than one of rank 1,000,000), which gives 100k+ distinct paths at 200k
// events and more as the data set grows.
export const STATIC_PAGE_SHARE = 0.35
export const STATIC_PAGES: Weighted = zipf([
  '/',
  '/pricing',
  '/login',
  '/signup',
  '/features',
  '/docs',
  '/blog',
  '/cart',
  '/checkout',
  '/account',
  '/about',
  '/integrations',
  '/account/settings',
  '/changelog',
  '/contact',
  '/customers',
  '/enterprise',
  '/security',
  '/careers',
  '/status',
  '/support',
  '/community',
  '/api',
  '/download',
  '/partners',
  '/events',
  '/terms',
  '/privacy',
  '/products',
  '/search',
])
/** long-tail ranks are 1..TAIL_RANKS, P(rank) ∝ rank^-TAIL_EXPONENT */
export const TAIL_RANKS = 5_000_000
export const TAIL_EXPONENT = 0.7
// 20 syllables make 400 two-syllable words: slugs and search terms that read like words and stay unique per rank.
export const SYLLABLES = [
  'ba',
  'ke',
  'lo',
  'mi',
  'nu',
  'ra',
  'si',
  'to',
  've',
  'zu',
  'da',
  'fe',
  'go',
  'hi',
  'ju',
  'ka',
  'le',
  'mo',
  'ni',
  'pa',
]

/** Inverse CDF of the continuous power law on [1, TAIL_RANKS + 1): u in [0, 1) → a rank. */
export function tailRank(u: number): number {
  const a = (TAIL_RANKS + 1) ** (1 - TAIL_EXPONENT) - 1
  return Math.floor((a * u + 1) ** (1 / (1 - TAIL_EXPONENT)))
}

const word = (k: number) => SYLLABLES[k % 20]! + SYLLABLES[Math.floor(k / 20) % 20]!

/**
 * A long-tail rank's URL path, one per rank (the SQL generator spells the same
 * mapping): half products, a fifth blog posts, a fifth searches, a tenth docs.
 */
export function tailPath(rank: number): string {
  const w1 = word(rank % 400)
  const w2 = word(Math.floor(rank / 400) % 400)
  const w3 = word(Math.floor(rank / 160_000) % 400)
  switch (rank % 10) {
    case 0:
    case 1:
    case 2:
    case 3:
    case 4:
      return `/product/${rank}`
    case 5:
    case 6:
      return `/blog/${w1}-${w2}-${rank}`
    case 7:
    case 8:
      return `/search?q=${w1}+${w2}${rank >= 160_000 ? `+${w3}` : ''}`
    default:
      return `/docs/${w2}/${w1}-${rank}`
  }
}

/** Zipf exponent of users' activity: the most active of 100k users makes ~4.5% of the events. */
export const USER_EXPONENT = 0.9
/** events per visit, on average (a visit is an hour slot of the user's; see realistic.ts) */
export const VISIT_MEAN_EVENTS = 5
