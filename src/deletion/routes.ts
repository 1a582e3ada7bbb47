import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { AppError } from '../errors.ts'
import type { DeletionRunner } from './deletion-runner.ts'
import { DeletionNotDone, type DeletionStore } from './deletion-store.ts'
import { deleteUserSchema, getDeletionSchema, liftSuppressionSchema } from './schemas.ts'
import type { SuppressionCache } from './suppression-cache.ts'

export interface DeletionRouteDeps {
  deletions: DeletionStore
  suppressions: SuppressionCache
  /** this process's runner, when it has one: woken at once */
  runner: DeletionRunner | undefined
}

/** Who asked, for the audit: the key's id ("env" for API_KEY), or "open" on a service without keys. */
const actorOf = (request: FastifyRequest) => request.principal?.id ?? 'open'

/** DELETE /users/{user_id}, GET /deletions/{id}, DELETE /suppressions/{user_id}. */
export const deletionRoutes: FastifyPluginAsync<DeletionRouteDeps> = async (
  plugin,
  { deletions, suppressions, runner },
) => {
  const app = plugin.withTypeProvider<TypeBoxTypeProvider>()
  app.delete(
    '/users/:user_id',
    { config: { scope: 'admin', project: 'writes' }, schema: deleteUserSchema },
    async (request, reply) => {
      const deletion = await deletions.request(
        request.project!.id,
        request.params.user_id,
        actorOf(request),
      )
      // This process refuses the ids from this answer on; others within SUPPRESSION_REFRESH_MS.
      await suppressions.invalidate()
      runner?.wake()
      return reply.code(202).send(deletion)
    },
  )
  app.get(
    '/deletions/:deletion_id',
    { config: { scope: 'admin', project: 'writes' }, schema: getDeletionSchema },
    async (request) => {
      const { deletion_id } = request.params
      const deletion = await deletions.get(request.project!.id, deletion_id)
      if (!deletion)
        throw new AppError(404, 'DELETION_NOT_FOUND', `no deletion ${deletion_id} in this project`)
      return deletion
    },
  )
  app.delete(
    '/suppressions/:user_id',
    { config: { scope: 'admin', project: 'writes' }, schema: liftSuppressionSchema },
    async (request) => {
      const { user_id } = request.params
      let lifted: boolean
      try {
        lifted = await deletions.lift(request.project!.id, user_id, actorOf(request))
      } catch (err) {
        if (err instanceof DeletionNotDone) throw new AppError(409, 'DELETION_RUNNING', err.message)
        throw err
      }
      if (!lifted)
        throw new AppError(
          404,
          'NOT_SUPPRESSED',
          `the id ${JSON.stringify(user_id)} is not suppressed`,
        )
      await suppressions.invalidate()
      return { user_id, lifted: true as const }
    },
  )
}
