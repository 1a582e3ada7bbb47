import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import { DEFAULT_PROJECT_ID } from '../../src/projects/project-store.ts'
import type { IdVersion } from './realistic.ts'
import {
  BROWSERS,
  CAMPAIGN_SHARE,
  COUNTRIES,
  DEVICES,
  EVENT_TYPES,
  REFERRERS,
  STATIC_PAGE_SHARE,
  STATIC_PAGES,
  SYLLABLES,
  TAIL_EXPONENT,
  TAIL_RANKS,
  USER_EXPONENT,
  UTM_CAMPAIGNS,
  UTM_SOURCES,
  VISIT_MEAN_EVENTS,
  type Weighted,
} from './vocabulary.ts'
import { SITE, webSeedArrays } from './web-vocabulary.ts'

// The realistic data set generated inside PostgreSQL, in the shape of
// realistic.ts: the same vocabulary (bound as arrays), Zipf users, a user's
// visits in distinct hour slots, each visit's events in the first 30 minutes
// of its slot with one session id, so session ids are exactly the visits.
// Differences, as approximations: a user's event count is its Zipf
// expectation rounded at random (not a multinomial draw), a visit's events
// fall at random inside its 20 minutes (not with gaps drawn in order), and
// each of a user's events picks one of the user's visits at random (a visit
// that gets none does not exist). A user's visit
// slots are distinct because visit j takes slot (a·j + b) mod slots with `a`
// a prime larger than any slot count, a bijection. Users are seeded in
// ranges of about a million events, one transaction each, so memory stays
// bounded at any size.
// Page views carry the browser script's properties too (web-vocabulary.ts),
// with one approximation more: every page view of a visit carries the
// visit's external referrer, not only its first.

export interface RealisticSeed {
  events: number
  users: number
  days: number
  lastDay: string
  ids: IdVersion
  /** the project the events go to (1, the default, unless --projects) */
  project?: number
  /** user u is named user-(u + userOffset): another project's users are other people, some under the same names */
  userOffset?: number
}

const CHUNK_EVENTS = 1_000_000
// Rounding at random makes the total vary by up to √users / 2 (one standard
// deviation); 2·√users more are drawn and the excess cut, so the total is exact.
const overdraw = (events: number, users: number) => 1 + (2 * Math.sqrt(users)) / events
const PRIMES = [10007, 10009, 10037, 10039, 10061, 10067, 10069, 10079]

// The `k`-th value of a weighted list: `width_bucket` finds a uniform draw among the cumulative lower bounds.
const pick = (values: string, bounds: string) => `(${values})[width_bucket(random(), ${bounds})]`
const word = (k: string) => `($20::text[])[1 + (${k}) % 20] || ($20::text[])[1 + (${k}) / 20 % 20]`
// tailPath() of vocabulary.ts, in SQL.
const TAIL_PATH = `CASE r % 10
  WHEN 5 THEN '/blog/' || ${word('r % 400')} || '-' || ${word('r / 400 % 400')} || '-' || r
  WHEN 6 THEN '/blog/' || ${word('r % 400')} || '-' || ${word('r / 400 % 400')} || '-' || r
  WHEN 7 THEN '/search?q=' || ${word('r % 400')} || '+' || ${word('r / 400 % 400')} || CASE WHEN r >= 160000 THEN '+' || ${word('r / 160000 % 400')} ELSE '' END
  WHEN 8 THEN '/search?q=' || ${word('r % 400')} || '+' || ${word('r / 400 % 400')} || CASE WHEN r >= 160000 THEN '+' || ${word('r / 160000 % 400')} ELSE '' END
  WHEN 9 THEN '/docs/' || ${word('r / 400 % 400')} || '/' || ${word('r % 400')} || '-' || r
  ELSE '/product/' || r END`
// 48 bits of milliseconds, the version and variant nibbles, random bits: RFC 9562 UUIDv7.
export const V7_FROM = (
  t: string,
  hex = 'md5(random()::text)',
) => `(lpad(to_hex((extract(epoch FROM ${t}) * 1000)::bigint), 12, '0') || '7' || substr(${hex}, 1, 3)
  || to_hex(8 + floor(random() * 4)::int) || substr(${hex}, 4, 15))::uuid`

// A draw in [0, 1) from three hex digits of a visit's hash, at 1-based position `at`.
const hashDraw = (at: number) => `(('x' || substr(h, ${at}, 3))::bit(12)::int / 4096.0)`

// $1 first user, $2 user after the last, $3 events, $4 Σ rank^-s, $5 span start, $6 slots, $7 limit, $8 v7?, $29 run seed,
// $30 project, $31 added to each user's number in its name, $32..$35 the page views' referrer hosts, utm mediums, screens and languages.
// A visit's attributes come from a hash of (run, user, visit), so each event
// computes its visit's without a join: the same session id, slot and source
// for every event of the visit.
const SEED_RANGE = `
WITH profile AS (
  SELECT u, c, least(c, $6::int, greatest(1, round(c / ${VISIT_MEAN_EVENTS}.0)::int)) AS v,
         (ARRAY[${PRIMES.join(', ')}])[1 + u % ${PRIMES.length}] AS a, floor(random() * $6::int)::int AS b,
         ${pick('$9::text[]', '$10::float8[]')} AS country, ${pick('$11::text[]', '$12::float8[]')} AS browser,
         width_bucket(random(), $14::float8[]) AS device
  FROM (SELECT u, floor($3::float8 * power(u, -${USER_EXPONENT}) / $4::float8 + random())::int AS c
        FROM generate_series($1::int, $2::int - 1) u) counts
  WHERE c > 0
),
draws AS (
  SELECT p.u, p.country, p.browser, p.device, p.j AS j, (p.a::bigint * p.j + p.b) % $6::int AS slot, md5($29::text || p.u || ':' || p.j) AS h,
         width_bucket(random(), $23::float8[]) AS t,
         random() < ${STATIC_PAGE_SHARE} AS static, ${pick('$25::text[]', '$26::float8[]')} AS static_path,
         floor(power($27::float8 * random() + 1, 1 / (1 - ${TAIL_EXPONENT})))::bigint AS r,
         random() AS x, random() * 1200 AS within_s
  -- j, the visit, is drawn per event in a subquery: a volatile column is not pulled up, so it is drawn once per row.
  FROM (SELECT p.*, floor(random() * p.v)::int AS j FROM profile p, generate_series(1, p.c) i) p
),
events_of AS (
  SELECT *, substr(h, 1, 16) AS session, ${hashDraw(20)} < ${CAMPAIGN_SHARE} AS campaign,
         ($15::text[])[width_bucket(${hashDraw(23)}, $16::float8[])] AS referrer,
         ($17::text[])[width_bucket(${hashDraw(26)}, $18::float8[])] AS utm_source,
         ($19::text[])[width_bucket(${hashDraw(29)}, $21::float8[])] AS utm_campaign,
         ($32::text[])[width_bucket(${hashDraw(23)}, $16::float8[])] AS referrer_host,
         ($33::text[])[width_bucket(${hashDraw(26)}, $18::float8[])] AS utm_medium,
         $5::timestamptz + (slot * 3600 + ${hashDraw(17)} * 600 + within_s) * INTERVAL '1 second' AS at,
         CASE WHEN static THEN static_path ELSE ${TAIL_PATH} END AS path
  FROM draws
)
INSERT INTO events (event_id, occurred_at, user_id, event_type, properties, project_id)
SELECT CASE WHEN $8::boolean THEN ${V7_FROM('at')} ELSE gen_random_uuid() END,
       at, 'user-' || (u + $31::int), ($22::text[])[t],
       jsonb_build_object('path', path, 'session', session, 'country', country, 'browser', browser,
                          'device', jsonb_build_object('os', ($13::text[])[device], 'type', ($28::text[])[device]))
       || CASE WHEN campaign THEN jsonb_build_object('utm_source', utm_source, 'utm_campaign', utm_campaign)
               ELSE jsonb_build_object('referrer', referrer) END
       || CASE ($24::text[])[t]
            WHEN 'amount' THEN jsonb_build_object('amount', round((power(x, 3) * 500)::numeric, 2))
            WHEN 'n' THEN jsonb_build_object('n', floor(x * 100)::int)
            WHEN 'logged_in' THEN jsonb_build_object('logged_in', x < 0.6)
            ELSE '{}'::jsonb END
       || CASE WHEN ($22::text[])[t] = 'page_view' THEN
            jsonb_build_object('title', path || ' | Example', 'host', '${SITE}',
              'referrer', CASE WHEN campaign OR referrer_host = '' THEN '' ELSE 'https://' || referrer_host || '/' END,
              'referrer_host', CASE WHEN campaign THEN '' ELSE referrer_host END,
              'screen_width', ($34::int[])[1 + u % cardinality($34::int[])],
              'language', ($35::text[])[1 + u / 7 % cardinality($35::text[])],
              'os', ($13::text[])[device], 'device', ($28::text[])[device])
            || CASE WHEN campaign THEN jsonb_build_object('utm_medium', utm_medium) ELSE '{}'::jsonb END
          ELSE '{}'::jsonb END,
       $30::int
FROM events_of
LIMIT $7`

/** Lower bounds of each value's share of [0, 1), for width_bucket. */
function bounds<T>(list: Weighted<T>): number[] {
  const total = list.reduce((s, [, w]) => s + w, 0)
  const out: number[] = []
  let sum = 0
  for (const [, w] of list) {
    out.push(sum / total)
    sum += w
  }
  return out
}

const values = (list: Weighted) => list.map(([v]) => v)

/** Seeds `events` realistic events on `client`, a range of users per transaction; returns the rows inserted. */
export async function seedRealistic(
  client: pg.Client,
  o: RealisticSeed,
  onProgress: (done: number) => void,
): Promise<number> {
  const weights = Array.from({ length: o.users }, (_, i) => (i + 1) ** -USER_EXPONENT)
  const sum = weights.reduce((s, w) => s + w, 0)
  const slots = o.days * 24
  if (slots >= PRIMES[0]!)
    throw new Error(
      `--days ${o.days} is more than the realistic seed's ${Math.floor(PRIMES[0]! / 24)} days`,
    )
  const spanStart = new Date(
    Date.parse(`${o.lastDay}T00:00:00Z`) - (o.days - 1) * 86_400_000,
  ).toISOString()
  const fixed = [
    values(COUNTRIES),
    bounds(COUNTRIES),
    values(BROWSERS),
    bounds(BROWSERS),
    DEVICES.map(([[os]]) => os),
    bounds(DEVICES),
    values(REFERRERS),
    bounds(REFERRERS),
    values(UTM_SOURCES),
    bounds(UTM_SOURCES),
    values(UTM_CAMPAIGNS),
    SYLLABLES,
    bounds(UTM_CAMPAIGNS),
    EVENT_TYPES.map(([[t]]) => t),
    bounds(EVENT_TYPES),
    EVENT_TYPES.map(([[, extra]]) => extra),
    values(STATIC_PAGES),
    bounds(STATIC_PAGES),
    (TAIL_RANKS + 1) ** (1 - TAIL_EXPONENT) - 1,
    DEVICES.map(([[, type]]) => type),
  ]
  const web = webSeedArrays(values(REFERRERS), values(UTM_SOURCES))
  // Session ids differ from run to run, as the JavaScript generator's do.
  const run = randomUUID()
  let done = 0
  let first = 1
  while (first <= o.users && done < o.events) {
    // The next range of users whose expected events make about one chunk.
    let last = first
    let expected = 0
    while (last <= o.users && (expected < CHUNK_EVENTS || last === first))
      expected += (o.events * weights[last++ - 1]!) / sum
    const res = await client.query(SEED_RANGE, [
      first,
      last,
      o.events * overdraw(o.events, o.users),
      sum,
      spanStart,
      slots,
      o.events - done,
      o.ids === 'v7',
      ...fixed,
      run,
      o.project ?? DEFAULT_PROJECT_ID,
      o.userOffset ?? 0,
      web.hosts,
      web.mediums,
      web.screens,
      web.languages,
    ])
    done += res.rowCount ?? 0
    onProgress(done)
    first = last
  }
  return done
}
