import { readFileSync } from 'node:fs'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { Problem } from './problem-schema.ts'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  version: string
  description: string
}

const DESCRIPTION = `${pkg.description}

Every error is an RFC 9457 problem details body (\`application/problem+json\`, schema \`Problem\`) with a stable \`code\`
and the request's \`request_id\`, also sent as the \`X-Request-Id\` header. Secured routes take an API key as
\`Authorization: Bearer <key>\` or \`X-API-Key: <key>\`; every response to an authenticated request carries
\`X-RateLimit-*\` and \`RateLimit-*\` headers. Timestamps are RFC 3339; days are UTC; ranges are inclusive.

Any request may also be answered, in the same shape, 400 \`MALFORMED_REQUEST\` (not valid HTTP) or \`BAD_URL\` (broken
percent-encoding), 408 \`REQUEST_TIMEOUT\` (headers and body not in within \`REQUEST_TIMEOUT_MS\`), 431
\`HEADERS_TOO_LARGE\`, or 503 \`SHUTTING_DOWN\` (retry: another process or the restarted one answers). \`MALFORMED_REQUEST\`,
\`REQUEST_TIMEOUT\` and \`HEADERS_TOO_LARGE\` come from the HTTP parser: they carry no \`instance\` and close the connection.`

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Shows `schema` once, as components.schemas[name], and makes every route
     * schema that embeds this very object refer to it. A feature calls it for
     * the shapes it owns, before the document is first built.
     */
    openApiComponent(name: string, schema: object): void
  }
}

/** A copy of a route schema (or a component) with every known shape below the top replaced by a $ref. */
function withRefs(components: Map<object, string>, value: unknown, top = true): unknown {
  if (Array.isArray(value)) return value.map((v) => withRefs(components, v, false))
  if (value === null || typeof value !== 'object') return value
  const name = components.get(value)
  if (name && !top) return { $ref: `#/components/schemas/${name}` }
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, withRefs(components, v, false)]),
  )
}

/**
 * The OpenAPI 3.1 document, built from the routes' own schemas (3.1 is JSON
 * Schema 2020-12, so TypeBox's schemas go in unchanged), served at
 * /openapi.json, with Swagger UI at /docs from the package's own files (no CDN).
 * Register it before any route: @fastify/swagger collects routes as they are added.
 */
const openApi: FastifyPluginAsync = async (app) => {
  // Found by identity: the routes use these very objects.
  const components = new Map<object, string>()
  const names = new Set<string>()
  app.decorate('openApiComponent', (name: string, schema: object) => {
    if (names.has(name) || components.has(schema))
      throw new Error(`OpenAPI component ${name} is registered twice`)
    components.set(schema, name)
    names.add(name)
  })
  app.openApiComponent('Problem', Problem)

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'event-analytics', version: pkg.version, description: DESCRIPTION },
      servers: [{ url: '/', description: 'the server serving this document' }],
      tags: [
        { name: 'events', description: 'ingestion' },
        {
          name: 'stats',
          description: 'analytics over the stored events (UTC days, inclusive ranges)',
        },
        {
          name: 'users',
          description:
            'profiles: the ids merged into a user (identify, alias), its traits and its events',
        },
        {
          name: 'projects',
          description:
            'apps kept apart: every event, key and answer belongs to one project (`project=` names it for a service-wide key)',
        },
        {
          name: 'export',
          description: 'every stored event of a range, in the columns the CSV import reads',
        },
        { name: 'operations', description: 'health, queue status, metrics and this document' },
      ],
      components: {
        // Read when the document is first built, after every feature has named its shapes.
        get schemas() {
          return Object.fromEntries(
            [...components].map(([schema, name]) => [name, withRefs(components, schema) as object]),
          )
        },
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'Authorization: Bearer <API key>',
          },
          apiKeyHeader: {
            type: 'apiKey',
            in: 'header',
            name: 'X-API-Key',
            description: 'the same API key, in its own header',
          },
        },
      },
    },
    // Only the document sees the copies; Fastify keeps serializing with the originals.
    transform: ({ schema, url }) => ({
      schema: withRefs(components, schema) as typeof schema,
      url,
    }),
  })
  // Swagger UI declares its own routes; a child context's onRoute hook sees
  // only those, and opens them like the document they show.
  await app.register(async (ui) => {
    ui.addHook('onRoute', (route) => {
      route.config = { ...route.config, scope: 'open' }
    })
    await ui.register(swaggerUi, { routePrefix: '/docs', uiConfig: { deepLinking: true } })
  })

  app.get(
    '/openapi.json',
    {
      config: { scope: 'open' },
      schema: {
        tags: ['operations'],
        operationId: 'getOpenApi',
        summary: 'This OpenAPI document',
        // Open-ended on purpose: a declared shape would make the serializer drop members.
        response: {
          200: {
            description: 'OpenAPI 3.1',
            content: {
              'application/json': { schema: { type: 'object', additionalProperties: true } },
            },
          },
        },
      },
    },
    async () => app.swagger(),
  )
}

// Not encapsulated: @fastify/swagger's onRoute hook must see the routes
// registered on the root after this plugin, and features call openApiComponent.
export const openApiPlugin = fp(openApi, { name: 'openapi' })
