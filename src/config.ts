import envSchema from 'env-schema'
import Type, { type Static } from 'typebox'
import { parseOrigins } from './web-intake/origins.ts'

// The one place that reads the environment. Every value is checked here, so a
// bad one stops start-up with a message naming the variable.
export const EnvSchema = Type.Object({
  PORT: Type.Integer({ default: 8000, minimum: 0, maximum: 65535 }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1 }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  DATABASE_URL: Type.Optional(Type.String({ pattern: '^postgres(ql)?://' })),
  REDIS_URL: Type.Optional(Type.String({ pattern: '^rediss?://' })),
  USE_QUEUE: Type.Optional(Type.Boolean()),
  REDIS_KEY_PREFIX: Type.String({ default: 'ea:', pattern: '^[A-Za-z0-9:_.-]*$' }),
  DB_POOL_SIZE: Type.Integer({ default: 10, minimum: 1, maximum: 200 }),
  DB_QUERY_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 100 }),
  MAX_BATCH_SIZE: Type.Integer({ default: 1000, minimum: 1, maximum: 100_000 }),
  MAX_BODY_BYTES: Type.Integer({ default: 8 * 1024 * 1024, minimum: 1024 }),
  MAX_PROPERTIES_BYTES: Type.Integer({ default: 16 * 1024, minimum: 2 }),
  MAX_FUTURE_SKEW: Type.Integer({ default: 86_400, minimum: 0, description: 'seconds' }),
  QUEUE_MAX_LENGTH: Type.Integer({
    default: 2_000_000,
    minimum: 1,
    description: 'events waiting in the queue',
  }),
  MAX_ATTEMPTS: Type.Integer({ default: 5, minimum: 1 }),
  WORKER_READ_COUNT: Type.Integer({ default: 50, minimum: 1, maximum: 1000 }),
  WORKER_CONCURRENCY: Type.Integer({ default: 2, minimum: 1, maximum: 32 }),
  CLAIM_IDLE_MS: Type.Integer({ default: 30_000, minimum: 10 }),
  WORKER_BLOCK_MS: Type.Integer({ default: 1000, minimum: 1 }),
  RETRY_MAX_DELAY_MS: Type.Integer({ default: 30_000, minimum: 1 }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({ default: 15_000, minimum: 0 }),
  DATA_DIR: Type.String({ default: './data', minLength: 1 }),
  DUCKDB_PATH: Type.Optional(Type.String({ minLength: 1 })),
  ANALYTICS_ENABLED: Type.Boolean({ default: true }),
  DUCKDB_MEMORY_LIMIT: Type.String({ default: '256MB', pattern: '^[0-9.]+\\s*[KMGT]i?B$' }),
  DUCKDB_THREADS: Type.Integer({ default: 2, minimum: 1, maximum: 256 }),
  SYNC_CHUNK_ROWS: Type.Integer({ default: 50_000, minimum: 1 }),
  DELETION_CHUNK_BLOCKS: Type.Integer({ default: 1_000, minimum: 1 }),
  SUPPRESSION_REFRESH_MS: Type.Integer({ default: 1_000, minimum: 10 }),
  RETENTION_DAYS: Type.Optional(Type.Integer({ minimum: 1 })),
  RETENTION_SWEEP_MS: Type.Integer({ default: 3_600_000, minimum: 10 }),
  ARCHIVE_DIR: Type.Optional(Type.String({ minLength: 1 })),
  MAX_PROPERTY_PATHS: Type.Integer({ default: 1024, minimum: 0, maximum: 100_000 }),
  MAX_ROLLUP_VALUES: Type.Integer({ default: 32, minimum: 0, maximum: 10_000 }),
  // A safety net now that commits wake the sync, yet kept short: it alone
  // notices rows freed when a transaction that wrote no events (one that held
  // the horizon back) ends, rows the CSV import stored in another process,
  // and everything while the LISTEN connection is down.
  SYNC_INTERVAL_MS: Type.Integer({ default: 100, minimum: 1 }),
  SYNC_DEGRADED_FAILURES: Type.Integer({
    default: 5,
    minimum: 1,
    description: 'consecutive failed sync chunks before /health says degraded',
  }),
  SYNC_DEGRADED_AFTER_MS: Type.Integer({
    default: 60_000,
    minimum: 0,
    description: 'failing for this long makes /health say degraded',
  }),
  SYNC_DEGRADED_LAG_MS: Type.Integer({
    default: 300_000,
    minimum: 1,
    description: 'a replica this far behind makes /health say degraded',
  }),
  MAX_RANGE_DAYS: Type.Integer({ default: 366, minimum: 1 }),
  API_KEY: Type.Optional(
    Type.String({ minLength: 16, description: 'an admin key; at least 16 characters' }),
  ),
  RATE_LIMIT_REQUESTS: Type.Integer({ default: 100, minimum: 1 }),
  RATE_LIMIT_PERIOD: Type.Number({ default: 60, exclusiveMinimum: 0, description: 'seconds' }),
  RATE_LIMIT_BURST: Type.Optional(Type.Integer({ minimum: 1 })),
  PUBLIC_RATE_LIMIT_REQUESTS: Type.Integer({
    default: 120,
    minimum: 1,
    description: "a public key's requests per client address per PUBLIC_RATE_LIMIT_PERIOD",
  }),
  PUBLIC_RATE_LIMIT_PERIOD: Type.Number({
    default: 60,
    exclusiveMinimum: 0,
    description: 'seconds',
  }),
  READ_CORS_ORIGINS: Type.Optional(
    Type.String({ description: 'comma-separated page origins that may call the read API' }),
  ),
  GEOIP_DB: Type.Optional(
    Type.String({ minLength: 1, description: 'a MaxMind .mmdb file (country or city)' }),
  ),
  AUTH_FAILURE_LIMIT: Type.Integer({
    default: 20,
    minimum: 1,
    description: 'unknown keys per client address per AUTH_FAILURE_PERIOD',
  }),
  AUTH_FAILURE_PERIOD: Type.Number({ default: 60, exclusiveMinimum: 0, description: 'seconds' }),
  REQUEST_TIMEOUT_MS: Type.Integer({
    default: 30_000,
    minimum: 100,
    description: 'headers and body must arrive within this',
  }),
  KEEP_ALIVE_TIMEOUT_MS: Type.Integer({ default: 72_000, minimum: 100 }),
  CONNECTION_TIMEOUT_MS: Type.Integer({
    default: 120_000,
    minimum: 100,
    description: 'a connection silent this long is closed',
  }),
  TRUST_PROXY: Type.String({
    default: 'false',
    pattern: '^(true|false|[0-9a-fA-F.:/, ]+)$',
    description: 'true, false, or proxy addresses/CIDRs',
  }),
})

type Env = Static<typeof EnvSchema>

export interface Config {
  port: number
  host: string
  logLevel: string
  databaseUrl?: string
  redisUrl?: string
  useQueue: boolean
  redisKeyPrefix: string
  db: { poolSize: number; queryTimeoutMs: number }
  limits: {
    maxBatchSize: number
    maxBodyBytes: number
    maxPropertiesBytes: number
    maxFutureSkewMs: number
  }
  queue: { maxLength: number }
  deletion: { chunkBlocks: number; suppressionRefreshMs: number }
  /**
   * days a project keeps its events unless it sets its own (null: everything),
   * how often the sweep looks, and where it archives what it removes (none: nowhere)
   */
  retention: { days: number | null; sweepMs: number; archiveDir: string | undefined }
  worker: {
    maxAttempts: number
    readCount: number
    concurrency: number
    claimIdleMs: number
    blockMs: number
    retryMaxDelayMs: number
  }
  shutdownTimeoutMs: number
  /** where the embedded store and the analytics replica live */
  dataDir: string
  apiKey?: string
  rateLimit: { capacity: number; refillPerMs: number }
  /** a public key's requests per client address (beside rateLimit per key) */
  publicRateLimit: { capacity: number; refillPerMs: number }
  /** the MaxMind database browser events' country is read from; none: no country */
  geoipDb?: string
  /** page origins that may call the read API (CORS); the ingestion routes allow any page */
  readCorsOrigins: string[]
  /** unknown keys a client address may present: a bucket of failures */
  authFailures: { capacity: number; refillPerMs: number }
  http: { requestTimeoutMs: number; keepAliveTimeoutMs: number; connectionTimeoutMs: number }
  /** Fastify's trustProxy: whether client IPs come from X-Forwarded-For */
  trustProxy: boolean | string
  analytics: {
    enabled: boolean
    duckdbPath: string
    memoryLimit: string
    threads: number
    syncChunkRows: number
    maxPropertyPaths: number
    maxRollupValues: number
    syncIntervalMs: number
    degraded: { failures: number; failingMs: number; lagMs: number }
    maxRangeDays: number
  }
}

export class ConfigError extends Error {}

export function loadConfig(
  source: Record<string, string | undefined> = process.env,
  options: { dotenv?: boolean } = {},
): Config {
  let env: Env
  try {
    env = envSchema<Env>({ schema: EnvSchema, data: source, dotenv: options.dotenv ?? false })
  } catch (err) {
    // env-schema names the variable as "env/NAME must ..."; keep that, drop the prefix.
    throw new ConfigError(`invalid configuration: ${(err as Error).message.replaceAll('env/', '')}`)
  }
  const useQueue = env.USE_QUEUE ?? env.REDIS_URL !== undefined
  if (useQueue && !env.REDIS_URL) {
    throw new ConfigError('invalid configuration: USE_QUEUE=true needs REDIS_URL')
  }
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    databaseUrl: env.DATABASE_URL,
    redisUrl: env.REDIS_URL,
    useQueue,
    redisKeyPrefix: env.REDIS_KEY_PREFIX,
    db: { poolSize: env.DB_POOL_SIZE, queryTimeoutMs: env.DB_QUERY_TIMEOUT_MS },
    limits: {
      maxBatchSize: env.MAX_BATCH_SIZE,
      maxBodyBytes: env.MAX_BODY_BYTES,
      maxPropertiesBytes: env.MAX_PROPERTIES_BYTES,
      maxFutureSkewMs: env.MAX_FUTURE_SKEW * 1000,
    },
    queue: { maxLength: env.QUEUE_MAX_LENGTH },
    deletion: {
      chunkBlocks: env.DELETION_CHUNK_BLOCKS,
      suppressionRefreshMs: env.SUPPRESSION_REFRESH_MS,
    },
    retention: {
      days: env.RETENTION_DAYS ?? null,
      sweepMs: env.RETENTION_SWEEP_MS,
      archiveDir: env.ARCHIVE_DIR,
    },
    worker: {
      maxAttempts: env.MAX_ATTEMPTS,
      readCount: env.WORKER_READ_COUNT,
      concurrency: env.WORKER_CONCURRENCY,
      claimIdleMs: env.CLAIM_IDLE_MS,
      blockMs: env.WORKER_BLOCK_MS,
      retryMaxDelayMs: env.RETRY_MAX_DELAY_MS,
    },
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    dataDir: env.DATA_DIR,
    apiKey: env.API_KEY,
    // RATE_LIMIT_REQUESTS per RATE_LIMIT_PERIOD is the sustained rate; the burst defaults to the same number.
    rateLimit: {
      capacity: env.RATE_LIMIT_BURST ?? env.RATE_LIMIT_REQUESTS,
      refillPerMs: env.RATE_LIMIT_REQUESTS / (env.RATE_LIMIT_PERIOD * 1000),
    },
    publicRateLimit: {
      capacity: env.PUBLIC_RATE_LIMIT_REQUESTS,
      refillPerMs: env.PUBLIC_RATE_LIMIT_REQUESTS / (env.PUBLIC_RATE_LIMIT_PERIOD * 1000),
    },
    geoipDb: env.GEOIP_DB,
    readCorsOrigins: readCorsOrigins(env.READ_CORS_ORIGINS),
    http: {
      requestTimeoutMs: env.REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: env.KEEP_ALIVE_TIMEOUT_MS,
      connectionTimeoutMs: env.CONNECTION_TIMEOUT_MS,
    },
    authFailures: {
      capacity: env.AUTH_FAILURE_LIMIT,
      refillPerMs: env.AUTH_FAILURE_LIMIT / (env.AUTH_FAILURE_PERIOD * 1000),
    },
    trustProxy: parseTrustProxy(env.TRUST_PROXY),
    analytics: {
      enabled: env.ANALYTICS_ENABLED,
      duckdbPath: env.DUCKDB_PATH ?? `${env.DATA_DIR.replace(/\/$/, '')}/analytics.duckdb`,
      memoryLimit: env.DUCKDB_MEMORY_LIMIT,
      threads: env.DUCKDB_THREADS,
      syncChunkRows: env.SYNC_CHUNK_ROWS,
      maxPropertyPaths: env.MAX_PROPERTY_PATHS,
      maxRollupValues: env.MAX_ROLLUP_VALUES,
      syncIntervalMs: env.SYNC_INTERVAL_MS,
      degraded: {
        failures: env.SYNC_DEGRADED_FAILURES,
        failingMs: env.SYNC_DEGRADED_AFTER_MS,
        lagMs: env.SYNC_DEGRADED_LAG_MS,
      },
      maxRangeDays: env.MAX_RANGE_DAYS,
    },
  }
}

function readCorsOrigins(value: string | undefined): string[] {
  if (value === undefined || value.trim() === '') return []
  const origins = parseOrigins(value)
  if (typeof origins === 'string')
    throw new ConfigError(`invalid configuration: READ_CORS_ORIGINS: ${origins}`)
  return origins
}

function parseTrustProxy(value: string): boolean | string {
  if (value === 'true') return true
  if (value === 'false') return false
  return value
}
