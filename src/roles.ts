import type { FastifyInstance } from 'fastify'
import { buildApp } from './app.ts'
import { DeletionRunner } from './deletion/deletion-runner.ts'
import type { Deps } from './deps.ts'
import { sweepDeleted } from './projects/project-store.ts'
import { RetentionSweeper } from './retention/retention-sweep.ts'
import { Worker } from './worker/worker.ts'

// Roles: `all` (API, worker and sync in one process, the default), `api`
// (with the sync when analytics is on), `worker`. Several of each may run
// against the same PostgreSQL and Redis.
export const ROLES = ['all', 'api', 'worker'] as const
export type Role = (typeof ROLES)[number]

export class RoleError extends Error {}

export interface Running {
  app: FastifyInstance | undefined
  worker: Worker | undefined
  runner: DeletionRunner
  retention: RetentionSweeper
  /**
   * Stops taking requests first (in-flight ones finish), then lets the worker
   * finish or hand back its batch, then closes the pools.
   */
  stop(): Promise<void>
}

const SWEEP_MS = 5_000
// How often a process looks for deletions requested elsewhere (its own wake it at once).
const DELETION_POLL_MS = 1_000

/** Every process that stores events (API or worker) sweeps out those of deleted projects now and then. */
function sweepDeletedProjects({ db, log }: Deps): NodeJS.Timeout {
  const timer = setInterval(() => {
    sweepDeleted(db).then(
      (removed) => {
        if (removed > 0) log.warn({ removed }, 'removed events of deleted projects stored late')
      },
      (err: Error) => log.debug({ err }, 'could not sweep deleted projects'),
    )
  }, SWEEP_MS)
  timer.unref()
  return timer
}

/** Starts what `role` runs in this process; `listen: false` leaves the app for inject() (the tests). */
export async function startRole(
  deps: Deps,
  role: Role,
  options: { listen: boolean },
): Promise<Running> {
  const { config, log } = deps
  if (role === 'worker' && !deps.queue) {
    throw new RoleError(
      'the worker role needs the queue: set REDIS_URL (and USE_QUEUE unset or true)',
    )
  }
  const worker =
    role !== 'api' && deps.queue
      ? new Worker(
          deps.queue,
          deps.store,
          config.worker,
          log.child({ component: 'worker' }),
          deps.metrics,
        )
      : undefined
  // Every process that stores events runs deletions too: their chunks never count a row twice.
  const runner = new DeletionRunner(
    deps.db,
    {
      chunkBlocks: config.deletion.chunkBlocks,
      pollMs: DELETION_POLL_MS,
      archiveDir: config.retention.archiveDir,
    },
    log.child({ component: 'deletion' }),
  )
  // And the retention sweep: its steps can run twice, in two processes, without harm.
  const retention = new RetentionSweeper(
    deps.db,
    { ...config.retention, chunkBlocks: config.deletion.chunkBlocks },
    log.child({ component: 'retention' }),
  )
  const app = role !== 'worker' ? await buildApp(deps, { runner }) : undefined

  if (app && (await deps.authenticator.isOpen())) {
    log.warn(
      'NO API KEYS ARE CONFIGURED: anyone who can reach this port can write and read events. ' +
        'Create one with `npm run keys -- create --scope admin` or set API_KEY.',
    )
  }
  worker?.start()
  runner.start()
  retention.start()
  deps.analytics?.start()
  const sweeper = sweepDeletedProjects(deps)
  if (app && options.listen) {
    await app.listen({ port: config.port, host: config.host })
    log.info({ mode: deps.queue ? 'queue' : 'direct' }, 'api ready')
  } else {
    await app?.ready()
  }

  return {
    app,
    worker,
    runner,
    retention,
    async stop() {
      if (app) {
        // Clients that keep a busy keep-alive connection (each answered 503
        // while closing) are cut off after a grace period.
        const closing = app.close()
        const grace = setTimeout(
          () => app.server.closeAllConnections(),
          Math.min(5_000, config.shutdownTimeoutMs / 2),
        )
        await closing
        clearTimeout(grace)
      }
      await worker?.stop()
      await runner.stop()
      await retention.stop()
      clearInterval(sweeper)
      await deps.close()
    },
  }
}
