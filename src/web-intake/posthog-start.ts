import type { FastifyPluginAsync } from 'fastify'
import Type from 'typebox'
import { jsonResponse } from '../http/problem-schema.ts'

// What posthog-js asks on start, watched in the browser test (posthog-js
// 1.449): GET /array/<token>/config (its remote config) and POST /flags/?v=2
// (feature flags); older versions ask /decide and /array/<token>/config.js.
// This service has no feature flags, session recording, surveys or site
// apps: each answer says "none", so posthog-js runs with nothing to load and
// no console error, and sends its events to /e/ (src/compat). The answers hold
// nothing of any project, so the routes are open.

const ENDPOINT = { endpoint: '/e/' }

function remoteConfig(token: string) {
  return {
    token,
    supportedCompression: ['gzip', 'gzip-js'],
    hasFeatureFlags: false,
    captureDeadClicks: false,
    capturePerformance: false,
    autocapture_opt_out: true,
    autocaptureExceptions: false,
    analytics: ENDPOINT,
    elementsChainAsString: true,
    sessionRecording: false,
    heatmaps: false,
    surveys: false,
    defaultIdentifiedOnly: true,
    siteApps: [],
  }
}

const FLAGS = {
  flags: {},
  featureFlags: {},
  featureFlagPayloads: {},
  errorsWhileComputingFlags: false,
  quotaLimited: [],
  sessionRecording: false,
  supportedCompression: ['gzip', 'gzip-js'],
  autocapture_opt_out: true,
  capturePerformance: false,
  analytics: ENDPOINT,
  elementsChainAsString: true,
  surveys: false,
  heatmaps: false,
  siteApps: [],
  toolbarParams: {},
  isAuthenticated: false,
  config: { enable_collect_everything: false },
}

const Open = Type.Object({}, { additionalProperties: true })
const Token = Type.Object({
  token: Type.String({ description: 'the project key posthog-js was given' }),
})

const doc = (operationId: string, summary: string, example: unknown) => ({
  tags: ['events'],
  operationId,
  summary,
  description:
    'For posthog-js: this service has no feature flags, session recording, surveys or site apps, and says so.',
  response: { 200: jsonResponse('Nothing enabled', Open, { example }) },
})

export const posthogStartRoutes: FastifyPluginAsync = async (app) => {
  const config = { scope: 'open' as const, ingestion: true, project: 'none' as const }
  app.get<{ Params: { token: string } }>(
    '/array/:token/config',
    {
      config,
      schema: {
        ...doc('posthogRemoteConfig', "posthog-js's remote config", remoteConfig('ea_…')),
        params: Token,
      },
    },
    async (request) => remoteConfig(request.params.token),
  )
  app.get<{ Params: { token: string } }>(
    '/array/:token/config.js',
    {
      config,
      schema: {
        tags: ['events'],
        operationId: 'posthogRemoteConfigScript',
        summary: "posthog-js's remote config, as a script (older versions)",
        params: Token,
        response: {
          200: {
            description: 'The config, set on window._POSTHOG_REMOTE_CONFIG',
            content: { 'text/javascript': { schema: Type.String(), example: '(function(){…})()' } },
          },
        },
      },
    },
    async (request, reply) => {
      const token = request.params.token
      const value = JSON.stringify({ config: remoteConfig(token), siteApps: [] })
      return reply
        .type('text/javascript; charset=utf-8')
        .send(
          `(function(){window._POSTHOG_REMOTE_CONFIG=window._POSTHOG_REMOTE_CONFIG||{};window._POSTHOG_REMOTE_CONFIG[${JSON.stringify(token)}]=${value}})();`,
        )
    },
  )
  for (const [path, id] of [
    ['/flags', 'Flags'],
    ['/flags/', 'FlagsSlash'],
    ['/decide', 'Decide'],
    ['/decide/', 'DecideSlash'],
  ] as const) {
    app.post(
      path,
      { config, schema: doc(`posthog${id}`, 'posthog-js feature flags: none', FLAGS) },
      async () => FLAGS,
    )
  }
}
