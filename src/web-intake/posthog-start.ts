import type { FastifyPluginAsync } from 'fastify'

// Filled in once posthog-js's start-up calls are watched in the browser test.
export const posthogStartRoutes: FastifyPluginAsync = async () => {}
