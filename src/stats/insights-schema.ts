import Type, { type Static } from 'typebox'
import { jsonResponse } from '../http/problem-schema.ts'
import { ERROR_MESSAGE } from '../http/validation-errors.ts'
import { Day, query, Range, Segments, statsRoute } from './schemas.ts'

// The querystrings and answers of /stats/active-users, /stats/stickiness and
// /stats/lifecycle (funnels and trends have files of their own).

const EventType = Type.Optional(
  Type.String({
    minLength: 1,
    maxLength: 128,
    description: 'only events of this type (all events when absent)',
    examples: ['purchase'],
    [ERROR_MESSAGE]: 'may be given once, of 1 to 128 characters',
  }),
)

export const ActiveUsersQuery = query({ ...Range, ...Segments })
export type ActiveUsersQuery = Static<typeof ActiveUsersQuery>
export const StickinessQuery = query({
  ...Range,
  event_type: EventType,
  interval: Type.Optional(
    Type.Union([Type.Literal('day'), Type.Literal('week')], { default: 'day' }),
  ),
  ...Segments,
})
export type StickinessQuery = Static<typeof StickinessQuery>
export const LifecycleQuery = query({
  ...Range,
  event_type: EventType,
  interval: Type.Optional(
    Type.Union([Type.Literal('day'), Type.Literal('week'), Type.Literal('month')], {
      default: 'day',
    }),
  ),
  ...Segments,
})
export type LifecycleQuery = Static<typeof LifecycleQuery>

const ActiveUsersRow = Type.Object({
  date: Day,
  dau: Type.Integer(),
  wau: Type.Integer({ description: 'distinct users in the 7 days ending on date' }),
  mau: Type.Integer({ description: 'distinct users in the 30 days ending on date' }),
})
const Stickiness = Type.Object({
  interval: Type.String(),
  intervals: Type.Integer({ description: 'the days (or weeks) the range meets' }),
  counts: Type.Array(Type.Object({ intervals: Type.Integer(), users: Type.Integer() })),
})
const LifecycleRow = Type.Object({
  start: Day,
  new: Type.Integer(),
  returning: Type.Integer(),
  resurrecting: Type.Integer(),
  dormant: Type.Integer({ description: 'zero or negative' }),
})

export const activeUsersRouteSchema = statsRoute({
  example: '/stats/active-users?from=2026-11-03&to=2026-11-01',
  operationId: 'getActiveUsers',
  summary: 'Daily, weekly and monthly active users, rolling',
  description:
    'For each day of the range: DAU, WAU (distinct users in the 7 days ending that day) and MAU (30 days), counting ' +
    'users active before `from` where a window reaches back. Users are counted after identity merging.',
  querystring: ActiveUsersQuery,
  ok: jsonResponse('One row per day', Type.Array(ActiveUsersRow), {
    example: [{ date: '2026-11-01', dau: 1520, wau: 6100, mau: 18200 }],
  }),
  badParameter: { field: 'from', message: 'must not be after to' },
})

export const stickinessRouteSchema = statsRoute({
  example: '/stats/stickiness?from=2026-11-01&to=2026-11-30&interval=month',
  operationId: 'getStickiness',
  summary: 'How many days (or weeks) users did something',
  description:
    "Users with a matching event on exactly 1, 2, … N of the range's days, or of the Monday weeks it meets (interval=week; " +
    "only the range's days of the first and last week count). Users who did it on none are not listed.",
  querystring: StickinessQuery,
  ok: jsonResponse('One row per number of days (or weeks)', Stickiness, {
    example: {
      interval: 'week',
      intervals: 2,
      counts: [
        { intervals: 1, users: 420 },
        { intervals: 2, users: 130 },
      ],
    },
  }),
  badParameter: { field: 'interval', message: 'must be day or week' },
})

export const lifecycleRouteSchema = statsRoute({
  example: '/stats/lifecycle?from=2026-11-01&to=2026-11-30&interval=year',
  operationId: 'getLifecycle',
  summary: 'New, returning, resurrecting and dormant users per interval',
  description:
    'Per day, Monday week or month meeting the range (each taken whole), of the users with a matching event: new (their first ' +
    'matching event ever is in it), returning (also active in the interval before), resurrecting (not in the one before, but ' +
    'earlier); dormant: active in the interval before and not in this one, as a negative number.',
  querystring: LifecycleQuery,
  ok: jsonResponse('One row per interval', Type.Array(LifecycleRow), {
    example: [{ start: '2026-11-02', new: 120, returning: 300, resurrecting: 41, dormant: -95 }],
  }),
  badParameter: { field: 'interval', message: 'must be day, week or month' },
})
