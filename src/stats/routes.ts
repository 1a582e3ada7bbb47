import type { FastifyPluginAsync } from 'fastify'
import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { FieldError } from '../errors.ts'
import { weeklyCohorts } from './cohorts.ts'
import { dailyActiveUsers } from './dau.ts'
import { dataRange } from './data-range.ts'
import { parseDay, parseInteger, parseRange, rejectUnknown, throwIfAny } from './params.ts'
import { dailyRetention, weeklyRetention } from './retention.ts'
import { cohortsRouteSchema, dataRangeRouteSchema, dauRouteSchema, retentionRouteSchema, topEventsRouteSchema } from './schemas.ts'
import { topEvents } from './top-events.ts'

export interface StatsRoutesOptions {
  replica: DuckDbReplica
  maxRangeDays: number
}

// Parameters are checked by hand (params.ts) so every bad one is named in one
// 422; the schemas in schemas.ts describe them for the OpenAPI document.
const passThrough = () => (value: unknown) => ({ value })

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (app, { replica, maxRangeDays }) => {
  app.get(
    '/stats/dau',
    {
      schema: dauRouteSchema,
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
      schema: topEventsRouteSchema,
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
      schema: retentionRouteSchema,
      validatorCompiler: passThrough,
    },
    async (request) => {
      const query = request.query as Record<string, unknown>
      const errors: FieldError[] = []
      rejectUnknown(query, ['start_date', 'windows', 'period'], errors)
      const start = parseDay('start_date', query.start_date, errors)
      const period = query.period ?? 'week'
      if (period !== 'week' && period !== 'day') errors.push({ field: 'period', message: 'must be week or day' })
      // Up to a year of windows either way: 52 weeks, or 90 days.
      const windows = parseInteger('windows', query.windows, 1, period === 'day' ? 90 : 52, 3, errors)
      throwIfAny(errors)
      return period === 'day' ? dailyRetention(replica, start!, windows) : weeklyRetention(replica, start!, windows)
    },
  )

  app.get('/stats/range', { schema: dataRangeRouteSchema, validatorCompiler: passThrough }, async (request) => {
    const errors: FieldError[] = []
    rejectUnknown(request.query as Record<string, unknown>, [], errors)
    throwIfAny(errors)
    return dataRange(replica)
  })

  app.get('/stats/cohorts', { schema: cohortsRouteSchema, validatorCompiler: passThrough }, async (request) => {
    const query = request.query as Record<string, unknown>
    const errors: FieldError[] = []
    rejectUnknown(query, ['from', 'to'], errors)
    const range = parseRange(query, maxRangeDays, errors)
    throwIfAny(errors)
    return weeklyCohorts(replica, range)
  })
}
