import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { funnel } from './funnel.ts'
import { checkFunnel } from './funnel-params.ts'
import { FunnelQuery, funnelRouteSchema } from './funnel-schema.ts'
import { checkRange, checkSegments, schemaErrors, throwIfAny } from './params.ts'
import type { StatsRoutesOptions } from './routes.ts'

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
}
