import Type, { type Static, type TObject, type TSchema } from 'typebox'
import {
  jsonResponse,
  problemResponses,
  rateLimited,
  SECURED,
  SECURED_STATUSES,
} from '../http/problem-schema.ts'
import { ERROR_MESSAGE } from '../http/validation-errors.ts'
import { ProjectParam } from '../projects/project-param.ts'
import { MAX_SEGMENTS } from './segment.ts'

// The stats routes' parameters and answers: Fastify validates the querystrings
// with them (routes.ts adds what a schema cannot say), the serializer writes
// the answers, the OpenAPI document shows both, and the static types come from
// them too.
export const Day = Type.String({ format: 'date', description: 'UTC calendar day, YYYY-MM-DD' })
// Year 0000 is a valid ISO 8601 year but no event can carry it (RFC 3339 years
// are 0001..9999), and an answer must never name a day the schema cannot hold.
export const day = (description: string, example: string) =>
  Type.String({ format: 'date', pattern: '^(?!0000-)', description, examples: [example] })
export const Range = {
  from: day('first UTC day, inclusive', '2026-11-01'),
  to: day(
    'last UTC day, inclusive; at most MAX_RANGE_DAYS (default 366) days from `from`',
    '2026-11-03',
  ),
}

const SEGMENT_HELP =
  'A filter, repeatable (all must hold): field[:op]:value. field is event_type, user_id, properties.<path> ' +
  '(keys of letters, digits, _ and -, dots between, e.g. properties.device.os; a key may start with $ and hold /) ' +
  'or user.<trait> (a current trait of the user profile, e.g. user.plan); op is eq (the default), ne, in ' +
  '(comma-separated values), gt, gte, lt, lte, or exists (properties and traits only, no value). A property or trait value compares as ' +
  'the JSON type it has: strings as text, numbers numerically when the filter value is a number, ' +
  'true/false/null only with that literal. ne also keeps events without the property (users without the trait). ' +
  'user_id keeps the events of the person the id belongs to, after identities are merged.'
const segmentParam = (description: string) =>
  Type.Optional(
    Type.Array(Type.String({ examples: ['properties.country:UA'] }), {
      maxItems: MAX_SEGMENTS,
      description,
      [ERROR_MESSAGE]: `at most ${MAX_SEGMENTS} filters`,
    }),
  )
export const Segments = { segment: segmentParam(SEGMENT_HELP) }
const RetentionSegments = {
  ...Segments,
  cohort_segment: segmentParam(
    'A filter on the events that make a user part of the cohort (same syntax as segment)',
  ),
  return_segment: segmentParam(
    'A filter on the events that count as a return (same syntax as segment)',
  ),
}

export const DEFAULT_LIMIT = 10
const Limit = Type.Optional(
  Type.Integer({ minimum: 1, maximum: 1000, default: DEFAULT_LIMIT, examples: [10] }),
)
// Up to a year of windows either way. The schema holds the larger bound; which
// one applies depends on the period, which routes.ts checks.
export const MAX_WEEKS = 52
export const MAX_DAYS = 90
export const DEFAULT_WINDOWS = 3
export const DEFAULT_PERIOD = 'week'

export const query = <P extends Record<string, TSchema>>(properties: P) =>
  Type.Object({ ...properties, project: ProjectParam }, { additionalProperties: false })

export const DauQuery = query({ ...Range, ...Segments })
export const TopEventsQuery = query({ ...Range, limit: Limit, ...Segments })
export const RetentionQuery = query({
  start_date: day('first day of the cohort', '2026-11-01'),
  period: Type.Optional(
    Type.Union([Type.Literal('week'), Type.Literal('day')], { default: DEFAULT_PERIOD }),
  ),
  windows: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_DAYS,
      default: DEFAULT_WINDOWS,
      examples: [3],
      description: `at most ${MAX_WEEKS} weeks or ${MAX_DAYS} days`,
    }),
  ),
  ...RetentionSegments,
})
export const BreakdownQuery = query({
  ...Range,
  by: Type.String({
    description:
      "properties.<path>, event_type, user_id (the person's id, after merges) or user.<trait> (the user's current trait)",
    examples: ['properties.country'],
    [ERROR_MESSAGE]: 'is required: event_type, user_id, properties.<path> or user.<trait>',
  }),
  limit: Limit,
  ...Segments,
  event_type: Type.Optional(
    Type.String({
      description: 'only events of this type (the same as segment=event_type:<type>)',
      examples: ['purchase'],
      [ERROR_MESSAGE]: 'may be given once; use segment=event_type:in:a,b for several',
    }),
  ),
})
export const DataRangeQuery = query({})
export const CohortsQuery = query({ ...Range, ...RetentionSegments })

export const DauRow = Type.Object({ date: Day, unique_users: Type.Integer() })
export type DauRow = Static<typeof DauRow>
export const TopEventRow = Type.Object({
  event_type: Type.String(),
  count: Type.Integer(),
  unique_users: Type.Integer(),
})
export type TopEventRow = Static<typeof TopEventRow>
export const WeeklyRetention = Type.Object({
  start_date: Day,
  cohort_size: Type.Integer(),
  retention: Type.Array(
    Type.Object({
      week: Type.Integer(),
      week_start: Day,
      retained_users: Type.Integer(),
      retention_rate: Type.Number(),
    }),
  ),
})
export type WeeklyRetention = Static<typeof WeeklyRetention>
export const DailyRetention = Type.Object({
  start_date: Day,
  period: Type.Literal('day'),
  cohort_size: Type.Integer(),
  retention: Type.Array(
    Type.Object({
      day: Type.Integer(),
      date: Day,
      retained_users: Type.Integer(),
      retention_rate: Type.Number(),
    }),
  ),
})
export type DailyRetention = Static<typeof DailyRetention>
const Count = { count: Type.Integer(), unique_users: Type.Integer() }
export const BreakdownRow = Type.Object({
  value: Type.Unknown({ description: 'the JSON value' }),
  ...Count,
})
export type BreakdownRow = Static<typeof BreakdownRow>
export const Breakdown = Type.Object({
  by: Type.String(),
  values: Type.Array(BreakdownRow),
  other: Type.Object({
    values: Type.Integer({ description: 'how many values were folded in' }),
    ...Count,
  }),
  not_set: Type.Object({ count: Type.Integer({ description: 'events without the property' }) }),
})
export type Breakdown = Static<typeof Breakdown>
export const DataRange = Type.Object({
  first_day: Type.Union([Day, Type.Null()]),
  last_day: Type.Union([Day, Type.Null()]),
})
export type DataRange = Static<typeof DataRange>
export const Cohorts = Type.Object({ from: Day, to: Day, cohorts: Type.Array(WeeklyRetention) })
export type Cohorts = Static<typeof Cohorts>

export function statsRoute<Q extends TObject>(route: {
  example: string
  operationId: string
  summary: string
  description: string
  querystring: Q
  ok: ReturnType<typeof jsonResponse>
  badParameter: { field: string; message: string }
}) {
  const { example, badParameter, ok, ...rest } = route
  return {
    tags: ['stats'],
    security: SECURED,
    ...rest,
    response: {
      200: rateLimited(ok),
      ...problemResponses(example, [...SECURED_STATUSES, 404, 422, 500], {
        422: { detail: '1 invalid parameter(s)', errors: [badParameter] },
      }),
    },
  }
}

export const dauRouteSchema = statsRoute({
  example: '/stats/dau?from=2026-11-03&to=2026-11-01',
  operationId: 'getDailyActiveUsers',
  summary: 'Daily active users',
  description:
    'Daily active users: distinct user_id with at least one event that UTC day, one row per day, zeros included.',
  querystring: DauQuery,
  ok: jsonResponse('One row per day of the range', Type.Array(DauRow), {
    example: [
      { date: '2026-11-01', unique_users: 1520 },
      { date: '2026-11-02', unique_users: 1488 },
      { date: '2026-11-03', unique_users: 0 },
    ],
  }),
  badParameter: { field: 'from', message: 'must not be after to' },
})

export const topEventsRouteSchema = statsRoute({
  example: '/stats/top-events?from=2026-11-01&to=2026-11-03&limit=0',
  operationId: 'getTopEvents',
  summary: 'Top event types',
  description: 'Event types over the range by count (descending, then name), with distinct users.',
  querystring: TopEventsQuery,
  ok: jsonResponse('At most `limit` rows', Type.Array(TopEventRow), {
    example: [
      { event_type: 'page_view', count: 18230, unique_users: 2411 },
      { event_type: 'signup', count: 312, unique_users: 312 },
    ],
  }),
  badParameter: { field: 'limit', message: 'must be an integer from 1 to 1000' },
})

export const retentionRouteSchema = statsRoute({
  example: '/stats/retention?start_date=2026-11-01&windows=60',
  operationId: 'getRetention',
  summary: 'Cohort retention, by week (default) or by day',
  description:
    'period=week (default): the cohort is the users whose first event ever falls in [start_date, start_date + 7 days); ' +
    'week k counts cohort users with an event in [start_date + 7k, start_date + 7(k+1)) days; windows 1..52. ' +
    'period=day: the cohort is the users first seen on start_date; day k counts cohort users with an event on start_date + k days; ' +
    'windows 1..90, and the answer carries period "day" with day/date instead of week/week_start. ' +
    'retention_rate = 100 × retained_users / cohort_size, one decimal (0.0 for an empty cohort). ' +
    'cohort_segment filters define who joins the cohort: the users whose first matching event falls in the cohort period. ' +
    'return_segment filters define what counts as coming back: a matching event in the window. segment applies to both.',
  querystring: RetentionQuery,
  ok: jsonResponse(
    'The cohort and one row per week (or per day with period=day)',
    Type.Union([WeeklyRetention, DailyRetention]),
    {
      example: {
        start_date: '2026-11-01',
        cohort_size: 200,
        retention: [
          { week: 1, week_start: '2026-11-08', retained_users: 84, retention_rate: 42 },
          { week: 2, week_start: '2026-11-15', retained_users: 61, retention_rate: 30.5 },
          { week: 3, week_start: '2026-11-22', retained_users: 57, retention_rate: 28.5 },
        ],
      },
    },
  ),
  badParameter: { field: 'windows', message: 'must be an integer from 1 to 52' },
})

export const breakdownRouteSchema = statsRoute({
  example: '/stats/breakdown?from=2026-11-01&to=2026-11-03&by=country',
  operationId: 'getBreakdown',
  summary: 'Events and users per value of a property',
  description:
    'Events of the range grouped by the value of `by` (a property path, event_type or user_id): the top `limit` values by count ' +
    '(then unique users, then value), with the rest folded into `other` (its unique_users counted across those values) and the ' +
    'events without the property in `not_set`. Values keep their JSON type: the number 5 and the string "5" are two values.',
  querystring: BreakdownQuery,
  ok: jsonResponse('The top values, the rest, and the events without the property', Breakdown, {
    example: {
      by: 'properties.country',
      values: [
        { value: 'UA', count: 1200, unique_users: 310 },
        { value: 'PL', count: 950, unique_users: 280 },
      ],
      other: { values: 14, count: 600, unique_users: 190 },
      not_set: { count: 75 },
    },
  }),
  badParameter: {
    field: 'by',
    message: 'the field must be event_type, user_id, properties.<path> or user.<trait>',
  },
})

export const dataRangeRouteSchema = statsRoute({
  example: '/stats/range?from=2026-11-01',
  operationId: 'getDataRange',
  summary: 'First and last day with events',
  description:
    'The first and last UTC day holding at least one event in the analytics replica (both null when it holds none). The dashboard opens on the last 30 days of this range.',
  querystring: DataRangeQuery,
  ok: jsonResponse('The days with data', DataRange, {
    example: { first_day: '2026-08-14', last_day: '2026-11-03' },
  }),
  badParameter: { field: 'from', message: 'unknown parameter' },
})

export const cohortsRouteSchema = statsRoute({
  example: '/stats/cohorts?from=2026-11-01&to=2026-10-01',
  operationId: 'getWeeklyCohorts',
  summary: 'Weekly retention of every cohort in a range',
  description:
    'One weekly cohort per 7 days of the range, starting on `from`: cohort c starts on from + 7c and is defined as in ' +
    '/stats/retention (users whose first event ever falls in its week). Cohort c carries weeks 1..(n - 1 - c), n being the ' +
    'number of weeks starting in the range, so the answer is a triangle and each cell equals /stats/retention?start_date=' +
    '<cohort start>&windows=<its weeks>. Weeks are whole: the last one may end after `to`. ' +
    'segment, cohort_segment and return_segment filter as on /stats/retention.',
  querystring: CohortsQuery,
  ok: jsonResponse('One row per cohort week', Cohorts, {
    example: {
      from: '2026-11-01',
      to: '2026-11-20',
      cohorts: [
        {
          start_date: '2026-11-01',
          cohort_size: 200,
          retention: [
            { week: 1, week_start: '2026-11-08', retained_users: 84, retention_rate: 42 },
            { week: 2, week_start: '2026-11-15', retained_users: 61, retention_rate: 30.5 },
          ],
        },
        {
          start_date: '2026-11-08',
          cohort_size: 150,
          retention: [
            { week: 1, week_start: '2026-11-15', retained_users: 45, retention_rate: 30 },
          ],
        },
        { start_date: '2026-11-15', cohort_size: 90, retention: [] },
      ],
    },
  }),
  badParameter: { field: 'from', message: 'must not be after to' },
})

/** The parts other stats route files (web-schemas.ts) build their routes from, so every route reads alike. */
export const statsSchemaParts = { Range, Segments, Limit, query, statsRoute }
