import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RouteKeyScope } from '../auth/api-keys.ts'
import type { Authenticator, Principal } from '../auth/authenticator.ts'
import { AppError, ValidationError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { AccessObserver } from '../metrics.ts'
import { pickProject } from '../projects/pick-project.ts'
import { DEFAULT_PROJECT_ID, type Project, type ProjectStore } from '../projects/project-store.ts'
import type { AuthFailureGuard } from './auth-failures.ts'
import type { BucketDecision, BucketPolicy, RateLimitStore } from './rate-limit/token-bucket.ts'

/** What a route asks of the caller: a key of this scope (admin passes everywhere), or nothing. */
export type RouteScope = RouteKeyScope | 'open'

/**
 * Which project a route works in: `reads` answer from one project, which a
 * caller that may reach several must name when there are several; `writes`
 * store into one, the default project unless named; `none` is not in a project.
 */
export type RouteProject = 'reads' | 'writes' | 'none'

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal
    /** the project the request works in (routes whose project is not `none`) */
    project?: Project
  }
  interface FastifyContextConfig {
    /** Declared by each route next to its schema; a route that says nothing needs admin. */
    scope?: RouteScope
    /** by default `reads` for read routes, `writes` for write routes, `none` for the others */
    project?: RouteProject
    /** where else the key may be, beside `Authorization: Bearer` and `X-API-Key` (the SDK routes, src/compat) */
    key?: KeyLocations
    /** an ingestion route (scope write): public keys may reach it, and pages of any origin (src/web-intake/cors.ts) */
    ingestion?: boolean
  }
}

/**
 * Existing SDKs send their key where their protocol puts it: Segment's and
 * RudderStack's as HTTP Basic (the key as username), older Segment clients
 * and PostHog's only in the body. A body key can be read only once the body
 * is parsed, so such a request is checked in preHandler instead of onRequest,
 * by the same code.
 */
export interface KeyLocations {
  /** `Authorization: Basic base64(key:)`: the username, or the password when the username is empty */
  basic?: boolean
  /** the key in the parsed (and, for SDK routes, decoded) body, when no header carries one */
  body?: (body: unknown) => string | undefined
}

const WWW_AUTHENTICATE = 'Bearer realm="event-analytics"'

// Closed by default, so a route added without a thought for access is not
// open to every key holder, let alone to anyone.
const DEFAULT_SCOPE: RouteScope = 'admin'

export interface AccessControlOptions {
  authenticator: Authenticator
  projects: ProjectStore
  limiter: RateLimitStore
  policy: BucketPolicy
  /** a public key's requests per client address, beside its bucket per key */
  publicPolicy: BucketPolicy
  log: Logger
  /** wrong keys per client address; without it they are not limited */
  failures?: AuthFailureGuard
  observer?: AccessObserver
}

const tooManyFailures = (seconds: number) =>
  new AppError(
    429,
    'TOO_MANY_AUTH_FAILURES',
    `too many unknown API keys from this address; retry in ${seconds} s`,
    {
      headers: { 'retry-after': String(seconds) },
    },
  )

/** The key a client presents: `Authorization: Bearer <key>` or `X-API-Key: <key>`, and Basic where the route takes it. */
function presentedKey(request: FastifyRequest, basic: boolean): string | undefined {
  const auth = request.headers.authorization
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth)
    if (m) return m[1]
    const b = basic ? /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(auth) : null
    if (b) {
      const decoded = Buffer.from(b[1]!, 'base64').toString('utf8')
      const colon = decoded.indexOf(':')
      const key = colon < 0 ? decoded : decoded.slice(0, colon) || decoded.slice(colon + 1)
      if (key.length > 0) return key
    }
  }
  const header = request.headers['x-api-key']
  return typeof header === 'string' && header.length > 0 ? header : undefined
}

function setRateLimitHeaders(reply: FastifyReply, d: BucketDecision): void {
  // Existing clients read the X- names; the IETF RateLimit-* fields are the standard.
  for (const prefix of ['X-RateLimit', 'RateLimit']) {
    reply.header(`${prefix}-Limit`, d.limit)
    reply.header(`${prefix}-Remaining`, d.remaining)
    reply.header(`${prefix}-Reset`, d.resetSeconds)
  }
}

/**
 * Authentication, scopes and rate limits as one onRequest hook on the root
 * instance, so every route is covered, including ones registered later. A
 * route whose key may be in the body, presented without a header key, is
 * checked the same way in preHandler, once the body is parsed.
 */
export function installAccessControl(app: FastifyInstance, options: AccessControlOptions): void {
  const { authenticator, projects, limiter, policy, publicPolicy, log, failures, observer } =
    options
  let lastLimiterError = 0
  // Requests whose key is to be read from the body; nothing else is kept per request.
  const deferred = new WeakSet<FastifyRequest>()

  /** The key, the scope and the rate limit: whether `request` may go on, or the error that stops it. */
  const admit = async (
    request: FastifyRequest,
    reply: FastifyReply,
    key: string | undefined,
    scope: RouteKeyScope,
  ): Promise<void> => {
    // A guesser past its allowance costs no lookup; a key known to be good still passes.
    const wait = key !== undefined && failures ? failures.retryAfter(request.ip) : 0
    if (wait > 0 && !authenticator.knownValid(key!)) {
      observer?.authFailure('blocked')
      throw tooManyFailures(wait)
    }
    const verdict = await authenticator.check(
      key,
      scope,
      request.routeOptions.config.ingestion === true,
    )
    if (!verdict.ok) {
      if (verdict.status === 401 && key !== undefined) {
        observer?.authFailure('unknown_key')
        const blocked = failures ? await failures.failed(request.ip) : 0
        if (blocked > 0) throw tooManyFailures(blocked)
      }
      const headers: Record<string, string> =
        verdict.status === 401 ? { 'www-authenticate': WWW_AUTHENTICATE } : {}
      throw new AppError(
        verdict.status,
        verdict.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN',
        verdict.reason,
        { headers },
      )
    }
    request.principal = verdict.principal
    const principal = verdict.principal
    // A public key is in every page of a site: one page in a loop must not
    // spend the whole site's budget, so its address has a bucket of its own,
    // taken first (a refused address spends nothing of the key's).
    const buckets: Array<[string, BucketPolicy]> = []
    if (principal?.scope === 'public')
      buckets.push([`pubip:${principal.id}:${request.ip}`, publicPolicy])
    buckets.push([principal ? `key:${principal.id}` : `ip:${request.ip}`, policy])

    let shown: BucketDecision | undefined
    for (const [bucket, bucketPolicy] of buckets) {
      let decision: BucketDecision
      try {
        decision = await limiter.take(bucket, bucketPolicy)
      } catch (err) {
        // A limiter that cannot be reached must not take ingestion down with it.
        if (Date.now() - lastLimiterError > 5_000) {
          lastLimiterError = Date.now()
          log.warn(
            { err: (err as Error).message },
            'rate limiter unavailable; letting requests through',
          )
        }
        return
      }
      // The headers tell the nearer limit: the one with fewer requests left.
      if (!shown || !decision.allowed || decision.remaining < shown.remaining) shown = decision
      if (!decision.allowed) break
    }
    setRateLimitHeaders(reply, shown!)
    if (!shown!.allowed) {
      throw new AppError(
        429,
        'RATE_LIMITED',
        `rate limit reached: ${shown!.limit} requests of burst; retry in ${shown!.resetSeconds} s`,
        {
          headers: { 'retry-after': String(shown!.resetSeconds) },
        },
      )
    }
  }

  /** After the limiter: naming projects costs a lookup, which a flood must not get for free. */
  const setProject = async (request: FastifyRequest): Promise<void> => {
    const { scope, project } = request.routeOptions.config
    const mode = project ?? (scope === 'read' ? 'reads' : scope === 'write' ? 'writes' : 'none')
    if (mode === 'none') return
    request.project = await projectOf(request, mode, projects)
  }

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url === undefined) return // no such route: the 404 handler answers
    const config = request.routeOptions.config
    const scope = config.scope ?? DEFAULT_SCOPE
    if (scope === 'open') return
    const key = presentedKey(request, config.key?.basic === true)
    if (key === undefined && config.key?.body) {
      deferred.add(request)
      return
    }
    await admit(request, reply, key, scope)
  })

  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.url === undefined || deferred.has(request)) return
    await setProject(request)
  })

  app.addHook('preHandler', async (request, reply) => {
    if (!deferred.has(request)) return
    deferred.delete(request)
    const config = request.routeOptions.config
    await admit(request, reply, config.key!.body!(request.body), config.scope as RouteKeyScope)
    await setProject(request)
  })
}

/** The project a request works in: its key's, or for a service-wide caller the one it names. */
async function projectOf(
  request: FastifyRequest,
  mode: Exclude<RouteProject, 'none'>,
  projects: ProjectStore,
): Promise<Project> {
  const named = (request.query as Record<string, unknown> | undefined)?.project
  if (named !== undefined && typeof named !== 'string') {
    throw new ValidationError('project may be given once', [
      { field: 'project', message: 'may be given once' },
    ])
  }
  const own = request.principal?.projectId
  if (own !== undefined && own !== null) {
    const project = await projects.byId(own)
    // A deleted project's keys are deleted with it; until this process's caches agree, they are unknown.
    if (!project)
      throw new AppError(401, 'UNAUTHORIZED', 'unknown or revoked API key', {
        headers: { 'www-authenticate': WWW_AUTHENTICATE },
      })
    // The same answer whether or not the other project exists, let alone has data.
    if (named !== undefined && named !== project.name)
      throw new AppError(
        403,
        'FORBIDDEN',
        `this key belongs to project "${project.name}" and reaches no other`,
      )
    return project
  }
  if (mode === 'writes' && named === undefined) {
    const project = await projects.byId(DEFAULT_PROJECT_ID)
    if (project) return project
  }
  return pickProject(projects, named, 'the project query parameter')
}
