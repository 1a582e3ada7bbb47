import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { activeUsers } from './active-users.ts'
import { funnel } from './funnel.ts'
import { checkFunnel } from './funnel-params.ts'
import { FunnelQuery, funnelRouteSchema } from './funnel-schema.ts'
import {
  ActiveUsersQuery,
  activeUsersRouteSchema,
  LifecycleQuery,
  lifecycleRouteSchema,
  StickinessQuery,
  stickinessRouteSchema,
} from './insights-schema.ts'
import { lifecycle } from './lifecycle.ts'
import { checkRange, checkSegments, failed, schemaErrors, throwIfAny } from './params.ts'
import { paths } from './paths.ts'
import { checkPaths } from './paths-params.ts'
import { PathsQuery, pathsRouteSchema } from './paths-schema.ts'
import type { StatsRoutesOptions } from './routes.ts'
import { parseField } from './segment.ts'
import { stickiness } from './stickiness.ts'
import { trends } from './trends.ts'
import { checkSeries } from './trends-params.ts'
import { DEFAULT_TRENDS_LIMIT, TrendsQuery, trendsRouteSchema } from './trends-schema.ts'
import type { TrendsOptions } from './trends-sql.ts'

// The insights (funnels, trends, active users, stickiness, lifecycle,
// paths), registered by routes.ts, in the same shape as its routes: the
// schema's errors attached, hand checks added, one 422 for all.
const withChecks = { attachValidation: true }
const config = { scope: 'read' as const }

export const insightsRoutes: FastifyPluginAsync<StatsRoutesOptions> = async (
  plugin,
  { analytics, maxRangeDays },
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>()
  const replicaOf = (request: FastifyRequest) => analytics.replicaOf(request.project!.id)

  app.get(
    '/stats/funnel',
    { config, schema: funnelRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const spec = checkFunnel(query, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, FunnelQuery)
      return funnel(await replicaOf(request), range, spec, segments)
    },
  )

  app.get(
    '/stats/trends',
    { config, schema: trendsRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const common = checkSegments('segment', query.segment, errors)
      const series = checkSeries(query, common, errors)
      let breakdown: TrendsOptions['breakdown']
      if (query.breakdown !== undefined && !failed(errors, 'breakdown')) {
        const field = query.breakdown.startsWith('properties.')
          ? parseField(query.breakdown)
          : 'must be properties.<path>'
        if (typeof field === 'string') errors.push({ field: 'breakdown', message: field })
        else if (field.kind === 'property')
          breakdown = { field, limit: query.breakdown_limit ?? DEFAULT_TRENDS_LIMIT }
      }
      throwIfAny(errors, TrendsQuery)
      return trends(await replicaOf(request), range, series, {
        interval: query.interval ?? 'day',
        comparePrevious: query.compare === 'previous',
        breakdown,
        breakdownText: query.breakdown,
      })
    },
  )

  app.get(
    '/stats/active-users',
    { config, schema: activeUsersRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, ActiveUsersQuery)
      return activeUsers(await replicaOf(request), range, segments)
    },
  )

  app.get(
    '/stats/stickiness',
    { config, schema: stickinessRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, StickinessQuery)
      const interval = query.interval ?? 'day'
      return stickiness(await replicaOf(request), range, interval, query.event_type, segments)
    },
  )

  app.get(
    '/stats/lifecycle',
    { config, schema: lifecycleRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, LifecycleQuery)
      const interval = query.interval ?? 'day'
      return lifecycle(await replicaOf(request), range, interval, query.event_type, segments)
    },
  )

  app.get('/stats/paths', { config, schema: pathsRouteSchema, ...withChecks }, async (request) => {
    const { query } = request
    const errors = schemaErrors(request)
    const range = checkRange(query, maxRangeDays, errors)
    const spec = checkPaths(query, errors)
    const segments = checkSegments('segment', query.segment, errors)
    throwIfAny(errors, PathsQuery)
    return paths(await replicaOf(request), range, spec, segments)
  })
}
