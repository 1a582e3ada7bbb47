import { Readable } from 'node:stream'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { Analytics } from '../analytics/analytics.ts'
import { firstKeptDay } from '../retention/cutoff.ts'
import { checkRange, checkSegments, schemaErrors, throwIfAny } from '../stats/params.ts'
import type { SqlClient } from '../store/sql-client.ts'
import { exportRows } from './export-rows.ts'
import { CONTENT_TYPES, EXPORT_STREAM, encode } from './formats.ts'
import { exportFileName, planExport } from './plan.ts'
import { ExportQuery, exportRouteSchema } from './schemas.ts'

export interface ExportRoutesOptions {
  db: SqlClient
  /** resolves person-level filters and merged ids; absent in a process without /stats */
  analytics: Pick<Analytics, 'replicaOf'> | undefined
  /** RETENTION_DAYS: the export leaves out what is past the project's retention */
  retentionDays: number | null
}

export const exportRoutes: FastifyPluginAsync<ExportRoutesOptions> = async (
  plugin,
  { db, analytics, retentionDays },
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/export',
    { config: { scope: 'read' }, schema: exportRouteSchema, attachValidation: true },
    async (request, reply) => {
      const { query } = request
      const errors = schemaErrors(request)
      // An export is a copy of the data, not a query to keep cheap: no MAX_RANGE_DAYS.
      const range = checkRange(query, Number.MAX_SAFE_INTEGER, errors)
      const segments = checkSegments('segment', query.segment, errors)
      throwIfAny(errors, ExportQuery)
      const project = request.project!
      const plan = await planExport(
        {
          project: project.id,
          range,
          segments,
          userId: query.user_id,
          firstKeptDay: firstKeptDay(project, retentionDays, new Date()),
        },
        analytics,
      )
      const format = query.format ?? 'ndjson'
      return reply
        .type(CONTENT_TYPES[format])
        .header(
          'content-disposition',
          `attachment; filename="${exportFileName(project.name, query.from, query.to, format)}"`,
        )
        .send(
          // The documented 200 is the file's text; a stream is how it is sent.
          Readable.from(encode(exportRows(db, plan), format), EXPORT_STREAM) as unknown as string,
        )
    },
  )
}
