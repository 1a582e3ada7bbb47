import type { PostHogCalls, SegmentCalls } from './sdk-clients.ts'
import type { TopEvent } from './sdk-service.ts'

// The known set each SDK sends, and every figure it must give. Each valid
// message carries properties.seq so that its stored row can be found again;
// each invalid one carries properties.case = 'invalid'. Linked ids never share
// an event type, so the per-type unique users are the same with or without
// identities merged; the merged figure is checked on its own.

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/** What one valid message must become. */
export interface ExpectedRow {
  user_id: string
  event_type: string
  /** the client-side time it was sent with, when the test set one */
  at?: number
}

export interface Expected {
  /** messages the client puts on the wire (events, identifies, aliases, groups, invalid ones) */
  messages: number
  /** rows stored for the project */
  stored: number
  topEvents: Record<string, TopEvent>
  /** events per user id as sent */
  perUser: Record<string, number>
  /** valid messages that carry a seq, by seq */
  rows: Record<number, ExpectedRow>
  /** event types stored without a seq (PostHog's $identify and $create_alias), each once */
  unnumbered: Record<string, string>
  /** messages the service must reject, each with a warning */
  invalid: number
  /** each id to the person it is merged into; ids not listed are their own person */
  merges: Record<string, string>
  /** the profiles of the persons that identify or alias named */
  profiles: Record<
    string,
    { ids: string[]; traits: Record<string, unknown>; groups?: Record<string, string> }
  >
}

const tooLongName = 'x'.repeat(129) // event_type allows 128
const tooLongUser = 'u'.repeat(257) // user_id allows 256

/** Tracks, pages, a screen, identify, alias and group, and three invalid messages. */
export function sendSegmentSet(c: SegmentCalls, now = Date.now()): Expected {
  const hourAgo = now - HOUR_MS
  c.page({
    anonymousId: 'anon-1',
    name: 'Home',
    category: 'Docs',
    properties: { seq: 1, path: '/' },
  })
  c.page({ anonymousId: 'anon-1', name: 'Pricing', properties: { seq: 2, path: '/pricing' } })
  c.identify({
    userId: 'u-1',
    anonymousId: 'anon-1',
    traits: { plan: 'pro', email: 'u1@example.com' },
  })
  c.track({ userId: 'u-1', event: 'Signed Up', properties: { seq: 3, plan: 'pro' } })
  c.track({
    userId: 'u-1',
    event: 'Order Completed',
    properties: { seq: 4, revenue: 10 },
    timestamp: new Date(hourAgo),
  })
  c.track({ userId: 'u-1', event: 'Order Completed', properties: { seq: 5, revenue: 20 } })
  c.page({ anonymousId: 'anon-2', name: 'Home', properties: { seq: 6, path: '/' } })
  c.alias({ previousId: 'anon-2', userId: 'u-2' })
  c.track({ userId: 'u-2', event: 'Order Completed', properties: { seq: 7, revenue: 5 } })
  c.screen({ userId: 'u-2', name: 'Dashboard', category: 'App', properties: { seq: 8 } })
  c.group({ userId: 'u-2', groupId: 'acme', traits: { seats: 5 } })
  c.track({ userId: 'u-3', event: tooLongName, properties: { case: 'invalid' } })
  c.track({ userId: tooLongUser, event: 'Signed Up', properties: { case: 'invalid' } })
  c.track({
    userId: 'u-3',
    event: 'Order Completed',
    properties: { case: 'invalid' },
    timestamp: new Date(now + 2 * DAY_MS), // past the 1-day future skew, after the sentAt correction
  })
  return {
    messages: 14,
    stored: 8,
    topEvents: {
      'Order Completed': { count: 3, unique_users: 2 },
      page_view: { count: 3, unique_users: 2 },
      'Signed Up': { count: 1, unique_users: 1 },
      screen_view: { count: 1, unique_users: 1 },
    },
    perUser: { 'anon-1': 2, 'anon-2': 1, 'u-1': 3, 'u-2': 2 },
    rows: {
      1: { user_id: 'anon-1', event_type: 'page_view' },
      2: { user_id: 'anon-1', event_type: 'page_view' },
      3: { user_id: 'u-1', event_type: 'Signed Up' },
      4: { user_id: 'u-1', event_type: 'Order Completed', at: hourAgo },
      5: { user_id: 'u-1', event_type: 'Order Completed' },
      6: { user_id: 'anon-2', event_type: 'page_view' },
      7: { user_id: 'u-2', event_type: 'Order Completed' },
      8: { user_id: 'u-2', event_type: 'screen_view' },
    },
    unnumbered: {},
    invalid: 3,
    merges: { 'anon-1': 'u-1', 'anon-2': 'u-2' },
    profiles: {
      'u-1': { ids: ['anon-1', 'u-1'], traits: { email: 'u1@example.com', plan: 'pro' } },
      'u-2': { ids: ['anon-2', 'u-2'], traits: {}, groups: { group: 'acme' } },
    },
  }
}

/** Captures, identify and alias ($identify and $create_alias are events), and three invalid messages. */
export function sendPostHogSet(c: PostHogCalls, now = Date.now()): Expected {
  const hourAgo = now - HOUR_MS
  const url = 'https://example.com'
  c.capture({
    distinctId: 'anon-1',
    event: '$pageview',
    properties: { seq: 1, $current_url: `${url}/` },
  })
  c.capture({
    distinctId: 'anon-1',
    event: '$pageview',
    properties: { seq: 2, $current_url: `${url}/pricing` },
  })
  c.identify({ distinctId: 'u-1', properties: { plan: 'pro', $set_once: { first_plan: 'free' } } })
  c.capture({ distinctId: 'u-1', event: 'Signed Up', properties: { seq: 3, plan: 'pro' } })
  c.capture({
    distinctId: 'u-1',
    event: 'Order Completed',
    properties: { seq: 4, revenue: 10 },
    timestamp: new Date(hourAgo),
  })
  c.capture({ distinctId: 'u-1', event: 'Order Completed', properties: { seq: 5, revenue: 20 } })
  c.capture({
    distinctId: 'anon-2',
    event: '$pageview',
    properties: { seq: 6, $current_url: `${url}/` },
  })
  c.alias({ distinctId: 'u-2', alias: 'anon-2' })
  c.capture({ distinctId: 'u-2', event: 'Order Completed', properties: { seq: 7, revenue: 5 } })
  c.capture({ distinctId: 'u-3', event: tooLongName, properties: { case: 'invalid' } })
  c.capture({ distinctId: tooLongUser, event: 'Signed Up', properties: { case: 'invalid' } })
  c.capture({
    distinctId: 'u-3',
    event: 'Order Completed',
    properties: { case: 'invalid' },
    timestamp: new Date(now + 2 * DAY_MS),
  })
  return {
    messages: 12,
    stored: 9,
    topEvents: {
      $pageview: { count: 3, unique_users: 2 },
      'Order Completed': { count: 3, unique_users: 2 },
      'Signed Up': { count: 1, unique_users: 1 },
      $identify: { count: 1, unique_users: 1 },
      $create_alias: { count: 1, unique_users: 1 },
    },
    perUser: { 'anon-1': 2, 'anon-2': 1, 'u-1': 4, 'u-2': 2 },
    rows: {
      1: { user_id: 'anon-1', event_type: '$pageview' },
      2: { user_id: 'anon-1', event_type: '$pageview' },
      3: { user_id: 'u-1', event_type: 'Signed Up' },
      4: { user_id: 'u-1', event_type: 'Order Completed', at: hourAgo },
      5: { user_id: 'u-1', event_type: 'Order Completed' },
      6: { user_id: 'anon-2', event_type: '$pageview' },
      7: { user_id: 'u-2', event_type: 'Order Completed' },
    },
    unnumbered: { $identify: 'u-1', $create_alias: 'u-2' },
    invalid: 3,
    // posthog-node's identify() sends no $anon_distinct_id: only the alias links ids.
    merges: { 'anon-2': 'u-2' },
    profiles: {
      'u-1': { ids: ['u-1'], traits: { first_plan: 'free', plan: 'pro' } },
      'u-2': { ids: ['anon-2', 'u-2'], traits: {} },
    },
  }
}

/** A few valid tracks, for the runs whose key is refused. */
export function sendFew(c: SegmentCalls | PostHogCalls, family: 'segment' | 'posthog'): void {
  for (let i = 0; i < 3; i++) {
    if (family === 'segment') (c as SegmentCalls).track({ userId: 'u-1', event: 'Signed Up' })
    else (c as PostHogCalls).capture({ distinctId: 'u-1', event: 'Signed Up' })
  }
}
