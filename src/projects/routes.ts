import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import Type from 'typebox'
import {
  jsonResponse,
  problemResponses,
  rateLimited,
  SECURED,
  SECURED_STATUSES,
} from '../http/problem-schema.ts'
import type { ProjectStore } from './project-store.ts'

const ProjectInfo = Type.Object({
  id: Type.Integer(),
  name: Type.String(),
  events_per_day: Type.Union([Type.Integer(), Type.Null()], {
    description: 'events accepted per UTC day; null: no quota',
  }),
  created_at: Type.String(),
  allowed_origins: Type.Union([Type.Array(Type.String()), Type.Null()], {
    description: 'page origins browsers may send events from; null: any origin',
  }),
  persistent_visitor_id: Type.Boolean({
    description: 'visitors keep an anonymous id in localStorage instead of the daily hash',
  }),
  honor_gpc: Type.Boolean({
    description: "a page's Global Privacy Control signal means its events are not recorded",
  }),
  retention_days: Type.Union([Type.Integer(), Type.Null()], {
    description:
      "days of events the project keeps; null: the service's RETENTION_DAYS (unset: everything)",
  }),
})
const ProjectList = Type.Array(ProjectInfo)

const listRouteSchema = {
  tags: ['projects'],
  operationId: 'listProjects',
  summary: 'The projects this key may read',
  description:
    "A project's key sees its own project only; a service-wide key (or a service with no keys) sees every project, and names one with `project=` on the other routes. Projects are made with `npm run projects`.",
  security: SECURED,
  response: {
    200: rateLimited(
      jsonResponse('The projects', ProjectList, {
        example: [
          {
            id: 1,
            name: 'default',
            events_per_day: null,
            created_at: '2026-11-01 12:00:00+00',
            allowed_origins: null,
            persistent_visitor_id: false,
            honor_gpc: false,
            retention_days: null,
          },
          {
            id: 2,
            name: 'web',
            events_per_day: 1_000_000,
            created_at: '2026-11-02 09:30:00+00',
            allowed_origins: ['https://shop.example'],
            persistent_visitor_id: false,
            honor_gpc: true,
            retention_days: 400,
          },
        ],
      }),
    ),
    ...problemResponses('/projects', [...SECURED_STATUSES, 500]),
  },
}

const routes: FastifyPluginAsync<{ projects: ProjectStore }> = async (app, { projects }) => {
  app.openApiComponent('Project', ProjectInfo)
  app.get(
    '/projects',
    { config: { scope: 'read', project: 'none' }, schema: listRouteSchema },
    async (request) => {
      const all = await projects.list()
      const own = request.principal?.projectId
      return own === undefined || own === null ? all : all.filter((p) => p.id === own)
    },
  )
}

export const projectRoutes = fp(routes, {
  name: 'projects',
  dependencies: ['openapi'],
  encapsulate: true,
})
