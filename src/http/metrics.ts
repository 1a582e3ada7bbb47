import type { FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import type { Metrics } from '../metrics.ts'

export interface MetricsPluginOptions {
  metrics: Metrics
}

// Requests no route matched (404s) share one label value: raw URLs would make
// a new series for every path a scanner tries.
const UNMATCHED = 'unmatched'

/** Times every request and serves GET /metrics in the Prometheus text format, without auth. */
const plugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, { metrics }) => {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpRequest(
      request.method,
      request.routeOptions.url ?? UNMATCHED,
      reply.statusCode,
      reply.elapsedTime / 1000,
    )
  })

  app.get('/metrics', { config: { scope: 'open' } }, async (_request, reply) => {
    const text = await metrics.registry.metrics()
    return reply.type(metrics.registry.contentType).send(text)
  })
}

// Not encapsulated: the hook must see every route of the app, not only the ones
// declared in this plugin. After openapi, so /metrics is in the document.
export const metricsPlugin = fp(plugin, { name: 'metrics', dependencies: ['openapi'] })
