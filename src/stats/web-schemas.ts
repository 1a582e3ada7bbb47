import Type, { type Static } from 'typebox'
import { jsonResponse } from '../http/problem-schema.ts'
import { ERROR_MESSAGE } from '../http/validation-errors.ts'
import { statsSchemaParts } from './schemas.ts'

// The web-analytics routes' parameters and answers (web-routes.ts), built
// like the other stats routes. Definitions: README, "Web analytics".
const { Range, Segments, Limit, query, statsRoute } = statsSchemaParts

export const WEB_INTERVALS = ['day', 'hour'] as const
export const PAGE_KINDS = ['top', 'entry', 'exit'] as const
/** The page-view properties /stats/web/breakdown groups visits by (the browser script's names). */
export const WEB_BREAKDOWNS = [
  'referrer_host',
  'referrer',
  'utm_source',
  'utm_medium',
  'utm_campaign',
  'utm_term',
  'utm_content',
  'browser',
  'os',
  'device',
  'country',
  'screen_width',
  'language',
  'host',
] as const
export type WebBreakdownBy = (typeof WEB_BREAKDOWNS)[number]

const oneOf = <T extends readonly string[]>(values: T, description: string, fallback?: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    {
      description,
      ...(fallback ? { default: fallback } : {}),
      [ERROR_MESSAGE]: `must be one of ${values.join(', ')}`,
    },
  )

export const WebOverviewQuery = query({
  ...Range,
  interval: Type.Optional(oneOf(WEB_INTERVALS, 'one row per UTC day or per UTC hour', 'day')),
  ...Segments,
})
export const WebPagesQuery = query({
  ...Range,
  kind: Type.Optional(
    oneOf(
      PAGE_KINDS,
      'top: page views per path; entry: visits by the path they started on; exit: visits by the path they ended on',
      'top',
    ),
  ),
  limit: Limit,
  ...Segments,
})
export const WebBreakdownQuery = query({
  ...Range,
  by: oneOf(
    WEB_BREAKDOWNS,
    'the page-view property visits are grouped by (its value on the visit’s first page view carrying it)',
  ),
  limit: Limit,
  ...Segments,
})

const Rate = Type.Number({ description: 'percent, one decimal' })
const Duration = Type.Number({ description: 'mean visit duration in seconds, one decimal' })

export const WebInterval = Type.Object({
  start: Type.String({ description: 'the UTC day (YYYY-MM-DD) or hour (RFC 3339) it starts' }),
  visitors: Type.Integer(),
  page_views: Type.Integer(),
  visits: Type.Integer({ description: 'visits that started in the interval' }),
})
export type WebInterval = Static<typeof WebInterval>
export const WebTotals = Type.Object({
  visitors: Type.Integer(),
  page_views: Type.Integer(),
  visits: Type.Integer(),
  bounces: Type.Integer(),
  bounce_rate: Rate,
  visit_duration: Duration,
  views_per_visit: Type.Number({ description: 'page views per visit, two decimals' }),
})
export type WebTotals = Static<typeof WebTotals>
export const WebOverview = Type.Object({
  interval: Type.String(),
  totals: WebTotals,
  intervals: Type.Array(WebInterval),
})
export type WebOverview = Static<typeof WebOverview>

export const TopPageRow = Type.Object({
  value: Type.String({ description: 'the path' }),
  visitors: Type.Integer(),
  page_views: Type.Integer(),
})
export type TopPageRow = Static<typeof TopPageRow>
export const VisitGroupRow = Type.Object({
  value: Type.String({ description: 'the property’s value (numbers as their JSON text)' }),
  visitors: Type.Integer({ description: 'distinct visitors among these visits' }),
  visits: Type.Integer(),
  page_views: Type.Integer({ description: 'page views in these visits' }),
  bounce_rate: Rate,
  visit_duration: Duration,
})
export type VisitGroupRow = Static<typeof VisitGroupRow>
export const WebPages = Type.Object({
  kind: Type.String(),
  rows: Type.Array(Type.Union([VisitGroupRow, TopPageRow])),
})
export type WebPages = Static<typeof WebPages>
export const WebBreakdown = Type.Object({ by: Type.String(), rows: Type.Array(VisitGroupRow) })
export type WebBreakdown = Static<typeof WebBreakdown>

const DEFINITIONS =
  'A visit is a visitor’s (user’s) events, of any type, with no gap over 30 minutes between one and the next, ' +
  'formed from the events of the range that the filters keep (a visit crossing `from` or `to` is cut there). ' +
  'A page view is a page_view event (our script, Segment page calls) or a $pageview (posthog-js). ' +
  'A bounce is a visit of exactly one event, a page view.'

export const webOverviewRouteSchema = statsRoute({
  example: '/stats/web/overview?from=2026-11-01&to=2026-11-03&interval=week',
  operationId: 'getWebOverview',
  summary:
    'Web analytics: visitors, page views and visits over time, bounce rate and visit duration',
  description:
    `${DEFINITIONS} Per interval (UTC day or hour, zeros included): visitors (distinct users with an event in it), ` +
    'page views and visits started in it. Totals over the range: visitors, page views, visits, bounces, ' +
    'bounce_rate = 100 × bounces / visits (one decimal), visit_duration = mean of (last event − first event) per visit in seconds ' +
    '(one decimal), views_per_visit = page views / visits (two decimals); all 0 without visits.',
  querystring: WebOverviewQuery,
  ok: jsonResponse('The totals and one row per interval', WebOverview, {
    example: {
      interval: 'day',
      totals: {
        visitors: 310,
        page_views: 1840,
        visits: 602,
        bounces: 241,
        bounce_rate: 40,
        visit_duration: 183.4,
        views_per_visit: 3.06,
      },
      intervals: [
        { start: '2026-11-01', visitors: 120, page_views: 640, visits: 210 },
        { start: '2026-11-02', visitors: 131, page_views: 700, visits: 220 },
        { start: '2026-11-03', visitors: 102, page_views: 500, visits: 172 },
      ],
    },
  }),
  badParameter: { field: 'interval', message: 'must be one of day, hour' },
})

export const webPagesRouteSchema = statsRoute({
  example: '/stats/web/pages?from=2026-11-01&to=2026-11-03&kind=first',
  operationId: 'getWebPages',
  summary: 'Web analytics: top, entry and exit pages',
  description:
    `${DEFINITIONS} kind=top: per properties.path of page views, page_views and visitors (distinct users who viewed it), ` +
    'by page_views, then visitors, then path. kind=entry / exit: visits grouped by the path of their first / last page view ' +
    '(by time, then path), with visitors, page views, bounce rate and mean duration of those visits, by visits, then visitors, ' +
    'then path. Page views without a string path, and visits without one, are in no row.',
  querystring: WebPagesQuery,
  ok: jsonResponse('At most `limit` rows', WebPages, {
    example: {
      kind: 'entry',
      rows: [
        {
          value: '/',
          visitors: 140,
          visits: 260,
          page_views: 700,
          bounce_rate: 38.5,
          visit_duration: 121.2,
        },
      ],
    },
  }),
  badParameter: { field: 'kind', message: 'must be one of top, entry, exit' },
})

export const webBreakdownRouteSchema = statsRoute({
  example: '/stats/web/breakdown?from=2026-11-01&to=2026-11-03&by=planet',
  operationId: 'getWebBreakdown',
  summary: 'Web analytics: visits by source, campaign, browser, OS, device, country…',
  description:
    `${DEFINITIONS} Visits grouped by the value of the page-view property \`by\` on their first page view carrying it ` +
    '(by time, then value): sources (referrer_host, utm_*) and the visitor’s technology (browser, os, device, country, ' +
    'screen_width, language) as the visit began. Per value: visitors, visits, page views, bounce rate and mean duration, ' +
    'by visits, then visitors, then value. Visits with no page view carrying the property are in no row.',
  querystring: WebBreakdownQuery,
  ok: jsonResponse('At most `limit` rows', WebBreakdown, {
    example: {
      by: 'referrer_host',
      rows: [
        {
          value: 'www.google.com',
          visitors: 90,
          visits: 130,
          page_views: 410,
          bounce_rate: 35.4,
          visit_duration: 140,
        },
      ],
    },
  }),
  badParameter: { field: 'by', message: `must be one of ${WEB_BREAKDOWNS.join(', ')}` },
})
