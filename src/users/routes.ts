import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync } from 'fastify'
import type { Analytics } from '../analytics/analytics.ts'
import { AppError } from '../errors.ts'
import { userProfile } from './profile.ts'
import { DEFAULT_RECENT, userRouteSchema } from './schemas.ts'

/** GET /users/{user_id}: the profile of the person an id belongs to, from the project's replica. */
export const userRoutes: FastifyPluginAsync<{ analytics: Pick<Analytics, 'replicaOf'> }> = async (
  plugin,
  { analytics },
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>()
  app.get(
    '/users/:user_id',
    { config: { scope: 'read' }, schema: userRouteSchema },
    async (request) => {
      const { user_id } = request.params
      const replica = await analytics.replicaOf(request.project!.id)
      const profile = await userProfile(replica, user_id, request.query.events ?? DEFAULT_RECENT)
      if (!profile)
        throw new AppError(404, 'USER_NOT_FOUND', `no user has the id ${JSON.stringify(user_id)}`)
      return profile
    },
  )
}
