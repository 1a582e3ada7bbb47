import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AppError } from '../errors.ts'

// CORS for the ingestion routes (POST /events, the SDK routes, /collect and
// PostHog's start-up routes), written here rather than with @fastify/cors:
// which origins may send is a project's setting, and the project is known
// only from the key, which beacons and posthog-js put in the body. So the
// preflight (which carries no key) lets any page ask, and the request itself
// is refused (403, no Access-Control-Allow-Origin) when its Origin is not one
// of the project's. A browser cannot forge Origin, so that holds for beacons
// too, which are sent without a preflight. @fastify/cors would also answer
// every route's preflight from one OPTIONS * route outside the scopes routes
// declare. Nothing here allows credentials: keys travel in the body or a
// header, never in cookies.

export interface CorsOptions {
  /** origins that may read the read API from a page (READ_CORS_ORIGINS); none by default */
  readOrigins: readonly string[]
}

const EXPOSED =
  'retry-after, x-request-id, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset'
const MAX_AGE = '86400'

export function installCors(app: FastifyInstance, options: CorsOptions): void {
  const ingestion = new Set<string>()
  const reads = new Set<string>()
  app.addHook('onRoute', (route) => {
    if (route.config?.ingestion) ingestion.add(route.url)
    else if (route.config?.scope === 'read') reads.add(route.url)
  })
  const readAllowed = (origin: string) => options.readOrigins.includes(origin)

  // The one preflight route: it answers for the paths above and 404s the rest,
  // so a page learns nothing of the other routes.
  app.options(
    '*',
    { config: { scope: 'open', project: 'none' }, schema: { hide: true } },
    async (request, reply) => {
      const path = request.url.split('?')[0]!
      const origin = request.headers.origin
      const isIngestion = ingestion.has(path)
      if (!isIngestion && !(reads.has(path) && origin !== undefined && readAllowed(origin)))
        throw new AppError(404, 'NOT_FOUND', `no route for OPTIONS ${path}`)
      reply.header('vary', 'origin, access-control-request-headers')
      if (origin !== undefined) {
        reply.header('access-control-allow-origin', origin)
        reply.header('access-control-allow-methods', isIngestion ? 'GET, POST' : 'GET')
        const asked = request.headers['access-control-request-headers']
        if (typeof asked === 'string' && asked.length > 0)
          reply.header('access-control-allow-headers', asked)
        reply.header('access-control-max-age', MAX_AGE)
      }
      return reply.code(204).send()
    },
  )

  // The project's origins: after access control, which sets the project (for
  // a key in the body, in its own preHandler, added before this one).
  app.addHook('preHandler', async (request) => {
    if (!request.routeOptions.config.ingestion) return
    const origin = request.headers.origin
    const allowed = request.project?.allowed_origins
    if (origin === undefined || !allowed || allowed.includes(origin)) return
    throw new AppError(
      403,
      'ORIGIN_NOT_ALLOWED',
      `pages of ${origin} may not send events to project "${request.project!.name}"; its allowed origins are ${allowed.join(', ')} (npm run projects -- origins)`,
    )
  })

  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin
    const config = request.routeOptions.config
    if (config.ingestion) {
      const allowed = request.project?.allowed_origins
      if (allowed && (origin === undefined || !allowed.includes(origin))) return
      // Before the project is known (a wrong key) the page may still read why.
      reply.header('access-control-allow-origin', allowed ? origin : '*')
      if (allowed) reply.header('vary', 'origin')
      reply.header('access-control-expose-headers', EXPOSED)
    } else if (config.scope === 'read' && origin !== undefined && readAllowed(origin)) {
      reply.header('access-control-allow-origin', origin)
      reply.header('vary', 'origin')
      reply.header('access-control-expose-headers', EXPOSED)
    }
  })
}
