import Type, { type Static } from 'typebox'
import { jsonResponse } from '../http/problem-schema.ts'
import { ERROR_MESSAGE } from '../http/validation-errors.ts'
import { query, Range, Segments, statsRoute } from './schemas.ts'
import { MAX_SERIES, MEASURE_HELP } from './trends-params.ts'

export const DEFAULT_TRENDS_LIMIT = 10

export const TrendsQuery = query({
  ...Range,
  interval: Type.Optional(
    Type.Union(
      [Type.Literal('hour'), Type.Literal('day'), Type.Literal('week'), Type.Literal('month')],
      { default: 'day', description: 'weeks start on Monday; all intervals in UTC' },
    ),
  ),
  event_type: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 128,
      description: 'one series: only events of this type (all events when absent)',
      examples: ['purchase'],
      [ERROR_MESSAGE]: 'may be given once, of 1 to 128 characters; use series= for several',
    }),
  ),
  measure: Type.Optional(
    Type.String({
      description: `one series (default count): ${MEASURE_HELP}`,
      examples: ['unique_users'],
    }),
  ),
  series: Type.Optional(
    Type.Array(
      Type.String({ examples: ['{"event_type":"purchase","measure":"sum:properties.amount"}'] }),
      {
        maxItems: MAX_SERIES,
        description:
          'several series, repeatable: each a JSON object {"event_type", "measure", "segment": [filters]}, all optional ' +
          "(measure defaults to count); the query's segment= applies to every series too",
        [ERROR_MESSAGE]: `at most ${MAX_SERIES} series`,
      },
    ),
  ),
  compare: Type.Optional(
    Type.Literal('previous', {
      description:
        'also the same number of days just before `from`, point i of it aligned with point i of the range',
    }),
  ),
  breakdown: Type.Optional(
    Type.String({
      description:
        'properties.<path>: one line per value (top N by events, plus other and not set)',
    }),
  ),
  breakdown_limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_TRENDS_LIMIT }),
  ),
  ...Segments,
})
export type TrendsQuery = Static<typeof TrendsQuery>

const Value = Type.Union([Type.Number(), Type.Null()])
export const TrendsPoint = Type.Object({
  start: Type.String({ description: "the interval's first instant (hour) or day" }),
  value: Value,
  median: Type.Optional(Value),
  p90: Type.Optional(Value),
})
export type TrendsPoint = Static<typeof TrendsPoint>
const Points = Type.Array(TrendsPoint)
const Lines = { points: Points, previous: Type.Optional(Points) }
export const TrendsSeries = Type.Object({
  event_type: Type.Union([Type.String(), Type.Null()]),
  measure: Type.String(),
  ...Lines,
  breakdown: Type.Optional(
    Type.Object({
      by: Type.String(),
      values: Type.Array(Type.Object({ value: Type.Unknown(), ...Lines })),
      other: Type.Object({ values: Type.Integer(), ...Lines }),
      not_set: Type.Object(Lines),
    }),
  ),
})
export type TrendsSeries = Static<typeof TrendsSeries>
export const Trends = Type.Object({
  interval: Type.String(),
  from: Type.String(),
  to: Type.String(),
  series: Type.Array(TrendsSeries),
})
export type Trends = Static<typeof Trends>

export const trendsRouteSchema = statsRoute({
  example: '/stats/trends?from=2026-11-01&to=2026-11-14&measure=median',
  operationId: 'getTrends',
  summary: 'Series of a measure over time',
  description:
    'Per interval of the range (hour, day, week from Monday, month; UTC; the first and last interval cut to the range): ' +
    'count (events), unique_users, per_user (value: events per active user; median and p90 of events per user, p90 ' +
    'interpolated), or sum|avg|min|max of a numeric property (events where it is a number). An interval without events is 0 ' +
    '(count, unique_users, sum) or null. compare=previous adds `previous`: point i over the same stretch of time, ' +
    "shifted back by the range's length in days. Users are counted after identity merging.",
  querystring: TrendsQuery,
  ok: jsonResponse('One line per series, each one point per interval', Trends, {
    example: {
      interval: 'week',
      from: '2026-11-02',
      to: '2026-11-15',
      series: [
        {
          event_type: 'purchase',
          measure: 'unique_users',
          points: [
            { start: '2026-11-02', value: 310 },
            { start: '2026-11-09', value: 295 },
          ],
          previous: [
            { start: '2026-10-19', value: 280 },
            { start: '2026-10-26', value: 301 },
          ],
        },
      ],
    },
  }),
  badParameter: { field: 'measure', message: `must be ${MEASURE_HELP}` },
})
