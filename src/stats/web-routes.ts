import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { DuckDbReplica } from '../analytics/duckdb-replica.ts'
import { checkRange, checkSegments, schemaErrors, throwIfAny } from './params.ts'
import { DEFAULT_LIMIT } from './schemas.ts'
import { topPages, visitGroups } from './web-groups.ts'
import { webOverview } from './web-overview.ts'
import {
  WebBreakdownQuery,
  WebOverviewQuery,
  WebPagesQuery,
  webBreakdownRouteSchema,
  webOverviewRouteSchema,
  webPagesRouteSchema,
} from './web-schemas.ts'

// The web-analytics routes, registered by routes.ts inside the stats plugin,
// with its conventions: scope read, the project from the key, one 422 naming
// every bad parameter (schema errors attached, then the range and filters).
const withChecks = { attachValidation: true }
const config = { scope: 'read' as const }

export function webStatsRoutes(
  plugin: FastifyInstance,
  replicaOf: (request: FastifyRequest) => Promise<DuckDbReplica>,
  maxRangeDays: number,
): void {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>()

  app.get(
    '/stats/web/overview',
    { config, schema: webOverviewRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, WebOverviewQuery)
      return webOverview(await replicaOf(request), range, query.interval ?? 'day', segments)
    },
  )

  app.get(
    '/stats/web/pages',
    { config, schema: webPagesRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, WebPagesQuery)
      const kind = query.kind ?? 'top'
      const limit = query.limit ?? DEFAULT_LIMIT
      const replica = await replicaOf(request)
      const rows =
        kind === 'top'
          ? await topPages(replica, range, limit, segments)
          : await visitGroups(replica, range, 'path', kind, limit, segments)
      return { kind, rows }
    },
  )

  app.get(
    '/stats/web/breakdown',
    { config, schema: webBreakdownRouteSchema, ...withChecks },
    async (request) => {
      const { query } = request
      const errors = schemaErrors(request)
      const range = checkRange(query, maxRangeDays, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, WebBreakdownQuery)
      const rows = await visitGroups(
        await replicaOf(request),
        range,
        query.by,
        'entry',
        query.limit ?? DEFAULT_LIMIT,
        segments,
      )
      return { by: query.by, rows }
    },
  )
}
