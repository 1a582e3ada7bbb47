import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync } from 'fastify'
import { warningsRouteSchema } from './schemas.ts'
import type { WarningsStore } from './warnings-store.ts'

/** GET /events/warnings: the SDK messages a project's requests had refused, newest first. */
export const warningsRoutes: FastifyPluginAsync<{ warnings: WarningsStore }> = async (
  plugin,
  { warnings },
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/events/warnings',
    { config: { scope: 'read' }, schema: warningsRouteSchema },
    async (request) => {
      const project = request.project!
      return {
        project: project.name,
        warnings: await warnings.list(project.id, request.query.limit ?? 100),
      }
    },
  )
}
