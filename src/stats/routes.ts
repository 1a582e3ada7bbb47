import type { FastifyPluginAsync } from 'fastify'
import Type from 'typebox'
import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { FieldError } from '../errors.ts'
import { dailyActiveUsers } from './dau.ts'
import { parseDay, parseInteger, parseRange, rejectUnknown, throwIfAny } from './params.ts'
import { weeklyRetention } from './retention.ts'
import { topEvents } from './top-events.ts'

export interface StatsRoutesOptions {
  replica: DuckDbReplica
  maxRangeDays: number
}

const Day = Type.String({ format: 'date', description: 'UTC calendar day, YYYY-MM-DD' })
const Range = { from: Day, to: Day }

// Parameters are checked by hand (params.ts) so every bad one is named in one
// 422; the schemas below describe them for the OpenAPI document.
const passThrough = () => (value: unknown) => ({ value })

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (app, { replica, maxRangeDays }) => {
  app.get(
    '/stats/dau',
    {
      schema: {
        description: 'Daily active users: distinct user_id with at least one event that UTC day, one row per day, zeros included.',
        querystring: Type.Object(Range),
        response: { 200: Type.Array(Type.Object({ date: Day, unique_users: Type.Integer() })) },
      },
      validatorCompiler: passThrough,
    },
    async (request) => {
      const query = request.query as Record<string, unknown>
      const errors: FieldError[] = []
      rejectUnknown(query, ['from', 'to'], errors)
      const range = parseRange(query, maxRangeDays, errors)
      throwIfAny(errors)
      return dailyActiveUsers(replica, range)
    },
  )

  app.get(
    '/stats/top-events',
    {
      schema: {
        description: 'Event types over the range by count (descending, then name), with distinct users.',
        querystring: Type.Object({ ...Range, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 10 })) }),
        response: {
          200: Type.Array(Type.Object({ event_type: Type.String(), count: Type.Integer(), unique_users: Type.Integer() })),
        },
      },
      validatorCompiler: passThrough,
    },
    async (request) => {
      const query = request.query as Record<string, unknown>
      const errors: FieldError[] = []
      rejectUnknown(query, ['from', 'to', 'limit'], errors)
      const range = parseRange(query, maxRangeDays, errors)
      const limit = parseInteger('limit', query.limit, 1, 1000, 10, errors)
      throwIfAny(errors)
      return topEvents(replica, range, limit)
    },
  )

  app.get(
    '/stats/retention',
    {
      schema: {
        description:
          'Weekly cohort retention. The cohort is the users whose first event ever falls in [start_date, start_date + 7 days); ' +
          'week k counts cohort users with an event in [start_date + 7k, start_date + 7(k+1)) days.',
        querystring: Type.Object({ start_date: Day, windows: Type.Optional(Type.Integer({ minimum: 1, maximum: 52, default: 3 })) }),
        response: {
          200: Type.Object({
            start_date: Day,
            cohort_size: Type.Integer(),
            retention: Type.Array(
              Type.Object({ week: Type.Integer(), week_start: Day, retained_users: Type.Integer(), retention_rate: Type.Number() }),
            ),
          }),
        },
      },
      validatorCompiler: passThrough,
    },
    async (request) => {
      const query = request.query as Record<string, unknown>
      const errors: FieldError[] = []
      rejectUnknown(query, ['start_date', 'windows'], errors)
      const start = parseDay('start_date', query.start_date, errors)
      const windows = parseInteger('windows', query.windows, 1, 52, 3, errors)
      throwIfAny(errors)
      return weeklyRetention(replica, start!, windows)
    },
  )
}
