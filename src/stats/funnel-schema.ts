import Type, { type Static } from 'typebox'
import { jsonResponse } from '../http/problem-schema.ts'
import { ERROR_MESSAGE } from '../http/validation-errors.ts'
import { DEFAULT_BREAKDOWN_LIMIT, DEFAULT_WINDOW, MAX_STEPS, MIN_STEPS } from './funnel-params.ts'
import { query, Range, Segments, statsRoute } from './schemas.ts'

const EventType = Type.String({ minLength: 1, maxLength: 128 })

export const FunnelQuery = query({
  ...Range,
  steps: Type.Array(EventType, {
    minItems: MIN_STEPS,
    maxItems: MAX_STEPS,
    description: 'the event types of the steps, in order, one parameter each',
    examples: [['signup', 'view_item', 'purchase']],
    [ERROR_MESSAGE]: `${MIN_STEPS} to ${MAX_STEPS} event types (steps=a&steps=b), each 1 to 128 characters`,
  }),
  window: Type.Optional(
    Type.String({
      default: DEFAULT_WINDOW,
      description:
        'how long after the step-1 event the last step may come: 30m, 12h, 7d … up to 90d',
      examples: ['14d'],
    }),
  ),
  order: Type.Optional(
    Type.Union([Type.Literal('ordered'), Type.Literal('strict'), Type.Literal('unordered')], {
      default: 'ordered',
    }),
  ),
  step_filter: Type.Optional(
    Type.Array(Type.String({ examples: ['2:properties.category:shoes'] }), {
      maxItems: 50,
      description:
        "a filter on one step's events, repeatable: <step>:<filter>, the filter as in segment= (e.g. 2:properties.category:shoes)",
    }),
  ),
  exclude: Type.Optional(
    Type.Array(EventType, {
      maxItems: 20,
      description:
        'an event type that voids an attempt when it comes between two consecutive steps (strictly between their times), repeatable; ' +
        '<i>:<event_type> only between step i and step i+1',
    }),
  ),
  breakdown: Type.Optional(
    Type.String({
      description:
        "properties.<path>: the value at the counted attempt's step-1 event (or breakdown_step's); " +
        "user.<trait>: the person's current trait (as user.<trait> filters read it)",
      examples: ['properties.country', 'user.plan'],
    }),
  ),
  breakdown_step: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_STEPS })),
  breakdown_limit: Type.Optional(
    Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_BREAKDOWN_LIMIT }),
  ),
  ...Segments,
})
export type FunnelQuery = Static<typeof FunnelQuery>

const Seconds = Type.Union([Type.Number(), Type.Null()])
export const FunnelStepRow = Type.Object({
  step: Type.Integer(),
  event_type: Type.String(),
  users: Type.Integer(),
  conversion_from_first: Type.Number({ description: 'percent of step 1, one decimal' }),
  conversion_from_previous: Type.Number({ description: 'percent of the step before, one decimal' }),
  drop_off: Type.Integer({ description: 'users of the step before who did not reach this one' }),
  median_seconds: Seconds,
  mean_seconds: Seconds,
})
export type FunnelStepRow = Static<typeof FunnelStepRow>
const Steps = Type.Array(FunnelStepRow)
export const Funnel = Type.Object({
  order: Type.String(),
  window_seconds: Type.Number(),
  steps: Steps,
  breakdown: Type.Optional(
    Type.Object({
      by: Type.String(),
      step: Type.Integer(),
      values: Type.Array(Type.Object({ value: Type.Unknown(), steps: Steps })),
      other: Type.Object({ values: Type.Integer(), steps: Steps }),
      not_set: Type.Object({ steps: Steps }),
    }),
  ),
})
export type Funnel = Static<typeof Funnel>

const step = (
  n: number,
  type: string,
  users: number,
  first: number,
  prev: number,
  drop: number,
  median: number | null,
  mean: number | null,
) => ({
  step: n,
  event_type: type,
  users,
  conversion_from_first: first,
  conversion_from_previous: prev,
  drop_off: drop,
  median_seconds: median,
  mean_seconds: mean,
})

export const funnelRouteSchema = statsRoute({
  example: '/stats/funnel?from=2026-11-01&to=2026-11-30&steps=signup',
  operationId: 'getFunnel',
  summary: 'Conversion funnel',
  description:
    'Users who entered with a step-1 event in [from, to + 1 day) and how far they got within `window` of it. ' +
    'Step k is completed by the first matching event at or after the step k−1 event (equal timestamps allowed; one event completes ' +
    "one step at most). order=strict: no other event of the user strictly between two steps' times; order=unordered: any step's " +
    'event starts an attempt, which reaches as many steps as have an event within the window from it. Every step-1 event starts an ' +
    'attempt; a user counts once, with the attempt that got furthest (ties: the earliest). An excluded event strictly between two ' +
    'reached steps voids the attempt, and a user whose counted attempt is voided is not counted. Users are counted after identity merging.',
  querystring: FunnelQuery,
  ok: jsonResponse('One row per step, and per breakdown value', Funnel, {
    example: {
      order: 'ordered',
      window_seconds: 1_209_600,
      steps: [
        step(1, 'signup', 1000, 100, 100, 0, null, null),
        step(2, 'view_item', 620, 62, 62, 380, 340, 1290.5),
        step(3, 'purchase', 155, 15.5, 25, 465, 86_400, 120_011.2),
      ],
    },
  }),
  badParameter: { field: 'window', message: 'at most 90d' },
})
