import type { FastifyPluginAsync } from 'fastify'
import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import type { FieldError } from '../errors.ts'
import { breakdown } from './breakdown.ts'
import { weeklyCohorts } from './cohorts.ts'
import { dailyActiveUsers } from './dau.ts'
import { dataRange } from './data-range.ts'
import { parseDay, parseInteger, parseRange, rejectUnknown, throwIfAny } from './params.ts'
import type { RetentionSegments } from './cohort-cells.ts'
import { dailyRetention, weeklyRetention } from './retention.ts'
import { breakdownRouteSchema, cohortsRouteSchema, dataRangeRouteSchema, dauRouteSchema, retentionRouteSchema, topEventsRouteSchema } from './schemas.ts'
import { parseField, parseSegments, type Segment } from './segment.ts'
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
      config: { scope: 'read' },
      schema: dauRouteSchema,
      validatorCompiler: passThrough,
    },
    async (request) => {
      const query = request.query as Record<string, unknown>
      const errors: FieldError[] = []
      rejectUnknown(query, ['from', 'to', 'segment'], errors)
      const range = parseRange(query, maxRangeDays, errors)
      const segments = parseSegments('segment', query.segment, errors)
      throwIfAny(errors)
      return dailyActiveUsers(replica, range, segments)
    },
  )

  app.get(
    '/stats/top-events',
    {
      config: { scope: 'read' },
      schema: topEventsRouteSchema,
      validatorCompiler: passThrough,
    },
    async (request) => {
      const query = request.query as Record<string, unknown>
      const errors: FieldError[] = []
      rejectUnknown(query, ['from', 'to', 'limit', 'segment'], errors)
      const range = parseRange(query, maxRangeDays, errors)
      const limit = parseInteger('limit', query.limit, 1, 1000, 10, errors)
      const segments = parseSegments('segment', query.segment, errors)
      throwIfAny(errors)
      return topEvents(replica, range, limit, segments)
    },
  )

  app.get(
    '/stats/retention',
    {
      config: { scope: 'read' },
      schema: retentionRouteSchema,
      validatorCompiler: passThrough,
    },
    async (request) => {
      const query = request.query as Record<string, unknown>
      const errors: FieldError[] = []
      rejectUnknown(query, ['start_date', 'windows', 'period', 'segment', 'cohort_segment', 'return_segment'], errors)
      const start = parseDay('start_date', query.start_date, errors)
      const period = query.period ?? 'week'
      if (period !== 'week' && period !== 'day') errors.push({ field: 'period', message: 'must be week or day' })
      // Up to a year of windows either way: 52 weeks, or 90 days.
      const windows = parseInteger('windows', query.windows, 1, period === 'day' ? 90 : 52, 3, errors)
      const segments = retentionSegments(query, errors)
      throwIfAny(errors)
      return period === 'day' ? dailyRetention(replica, start!, windows, segments) : weeklyRetention(replica, start!, windows, segments)
    },
  )

  app.get(
    '/stats/breakdown',
    {
      config: { scope: 'read' },
      schema: breakdownRouteSchema,
      validatorCompiler: passThrough,
    },
    async (request) => {
      const query = request.query as Record<string, unknown>
      const errors: FieldError[] = []
      rejectUnknown(query, ['from', 'to', 'by', 'event_type', 'limit', 'segment'], errors)
      const range = parseRange(query, maxRangeDays, errors)
      const by = typeof query.by === 'string' ? parseField(query.by) : 'is required: event_type, user_id or properties.<path>'
      if (typeof by === 'string') errors.push({ field: 'by', message: by })
      const limit = parseInteger('limit', query.limit, 1, 1000, 10, errors)
      const segments: Segment[] = parseSegments('segment', query.segment, errors)
      // event_type= is the common case of a filter, spelled as a parameter of its own.
      if (typeof query.event_type === 'string') segments.push(...parseSegments('event_type', `event_type:eq:${query.event_type}`, errors))
      else if (query.event_type !== undefined) errors.push({ field: 'event_type', message: 'may be given once; use segment=event_type:in:a,b for several' })
      throwIfAny(errors)
      return breakdown(replica, range, { text: query.by as string, field: by as Exclude<typeof by, string> }, limit, segments)
    },
  )

  app.get('/stats/range', { config: { scope: 'read' }, schema: dataRangeRouteSchema, validatorCompiler: passThrough }, async (request) => {
    const errors: FieldError[] = []
    rejectUnknown(request.query as Record<string, unknown>, [], errors)
    throwIfAny(errors)
    return dataRange(replica)
  })

  app.get('/stats/cohorts', { config: { scope: 'read' }, schema: cohortsRouteSchema, validatorCompiler: passThrough }, async (request) => {
    const query = request.query as Record<string, unknown>
    const errors: FieldError[] = []
    rejectUnknown(query, ['from', 'to', 'segment', 'cohort_segment', 'return_segment'], errors)
    const range = parseRange(query, maxRangeDays, errors)
    const segments = retentionSegments(query, errors)
    throwIfAny(errors)
    return weeklyCohorts(replica, range, segments)
  })
}

/** segment= narrows both who joins a cohort and what counts as coming back; the other two, one each. */
function retentionSegments(query: Record<string, unknown>, errors: FieldError[]): RetentionSegments {
  const both = parseSegments('segment', query.segment, errors)
  return {
    cohort: [...both, ...parseSegments('cohort_segment', query.cohort_segment, errors)],
    return: [...both, ...parseSegments('return_segment', query.return_segment, errors)],
  }
}
