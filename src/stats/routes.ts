import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Analytics } from '../analytics/analytics.ts'
import type { FieldError } from '../errors.ts'
import { integerMessage } from '../http/validation-errors.ts'
import { breakdown } from './breakdown.ts'
import type { RetentionSegments } from './cohort-cells.ts'
import { weeklyCohorts } from './cohorts.ts'
import { dataRange } from './data-range.ts'
import { dailyActiveUsers } from './dau.ts'
import { insightsRoutes } from './insights-routes.ts'
import {
  checkRange,
  checkSegments,
  checkWindows,
  dayNumber,
  failed,
  schemaErrors,
  setError,
  throwIfAny,
} from './params.ts'
import { dailyRetention, weeklyRetention } from './retention.ts'
import {
  BreakdownQuery,
  breakdownRouteSchema,
  CohortsQuery,
  cohortsRouteSchema,
  DauQuery,
  DEFAULT_LIMIT,
  DEFAULT_PERIOD,
  DEFAULT_WINDOWS,
  dataRangeRouteSchema,
  dauRouteSchema,
  MAX_DAYS,
  MAX_WEEKS,
  RetentionQuery,
  retentionRouteSchema,
  TopEventsQuery,
  topEventsRouteSchema,
} from './schemas.ts'
import { parseField, parseSegments, type SegmentField } from './segment.ts'
import { topEvents } from './top-events.ts'
import { webStatsRoutes } from './web-routes.ts'

export interface StatsRoutesOptions {
  /** each request reads its project's replica */
  analytics: Pick<Analytics, 'replicaOf'>
  maxRangeDays: number
}

// Fastify validates each querystring with its schema (schemas.ts). Routes with
// checks a schema cannot express take the schema's errors as attached
// validation, so those checks add to the same 422 instead of a second round.
const withChecks = { attachValidation: true }
// Every stats route answers a read key.
const config = { scope: 'read' as const }

export const statsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (
  plugin,
  { analytics, maxRangeDays },
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>()
  const replicaOf = (request: FastifyRequest) => analytics.replicaOf(request.project!.id)
  await insightsRoutes(plugin, { analytics, maxRangeDays })

  app.get('/stats/dau', { config, schema: dauRouteSchema, ...withChecks }, async (request) => {
    const { query } = request
    const errors = schemaErrors(request)
    const range = checkRange(query, maxRangeDays, errors)
    const segments = checkSegments('segment', query.segment, errors)
    throwIfAny(errors, DauQuery)
    return dailyActiveUsers(await replicaOf(request), range, segments)
  })

  app.get(
    '/stats/top-events',
    { config, schema: topEventsRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, TopEventsQuery)
      return topEvents(await replicaOf(request), range, query.limit ?? DEFAULT_LIMIT, segments)
    },
  )

  app.get(
    '/stats/retention',
    { config, schema: retentionRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      // The schema allows the larger bound; a bad period counts as the default, week.
      const maxWindows = query.period === 'day' ? MAX_DAYS : MAX_WEEKS
      const windows = query.windows ?? DEFAULT_WINDOWS
      if (failed(errors, 'windows') || windows > maxWindows)
        setError(errors, { field: 'windows', message: integerMessage(1, maxWindows) })
      const period = query.period ?? DEFAULT_PERIOD
      if (!failed(errors, 'period'))
        checkWindows(query.start_date, windows, period === 'day' ? 1 : 7, errors)
      const segments = retentionSegments(query, errors)
      throwIfAny(errors, RetentionQuery)
      const start = dayNumber(query.start_date)
      return period === 'day'
        ? dailyRetention(await replicaOf(request), start, windows, segments)
        : weeklyRetention(await replicaOf(request), start, windows, segments)
    },
  )

  app.get(
    '/stats/breakdown',
    { config, schema: breakdownRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      let field: SegmentField | undefined
      if (!failed(errors, 'by')) {
        const parsed = parseField(query.by)
        if (typeof parsed === 'string') errors.push({ field: 'by', message: parsed })
        else field = parsed
      }
      const segments = checkSegments('segment', query.segment, errors)
      // event_type= is the common case of a filter, spelled as a parameter of its own.
      if (query.event_type !== undefined && !failed(errors, 'event_type')) {
        segments.push(...parseSegments('event_type', `event_type:eq:${query.event_type}`, errors))
      }
      throwIfAny(errors, BreakdownQuery)
      return breakdown(
        await replicaOf(request),
        range,
        { text: query.by, field: field! },
        query.limit ?? DEFAULT_LIMIT,
        segments,
      )
    },
  )

  // No parameters, so nothing to check by hand: a schema error is answered as it is.
  app.get('/stats/range', { config, schema: dataRangeRouteSchema }, async (request) =>
    dataRange(await replicaOf(request)),
  )

  app.get(
    '/stats/cohorts',
    { config, schema: cohortsRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const segments = retentionSegments(query, errors)
      throwIfAny(errors, CohortsQuery)
      return weeklyCohorts(await replicaOf(request), range, segments)
    },
  )

  webStatsRoutes(app, replicaOf, maxRangeDays)
}

type SegmentParams = { segment?: string[]; cohort_segment?: string[]; return_segment?: string[] }

/** segment= narrows both who joins a cohort and what counts as coming back; the other two, one each. */
function retentionSegments(query: SegmentParams, errors: FieldError[]): RetentionSegments {
  const both = checkSegments('segment', query.segment, errors)
  return {
    cohort: [...both, ...checkSegments('cohort_segment', query.cohort_segment, errors)],
    return: [...both, ...checkSegments('return_segment', query.return_segment, errors)],
  }
}
