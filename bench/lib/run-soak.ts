import { openPostgres } from './engine.ts'
import { describeMachine } from './machine.ts'
import type { BenchOptions } from './options.ts'
import { statsQueries } from './queries.ts'
import type { Progress, RunResult } from './run.ts'
import { checkAfterStop, serviceOptionsFor } from './run.ts'
import type { Sandbox } from './sandbox.ts'
import { Service } from './service.ts'
import { runSoak } from './soak.ts'

const EXPECTED_TABLE = 'bench_expected_ids'

/**
 * --soak: mixed load with worker kills, then the same exactly-once check as a
 * normal run, against the ids of every accepted event.
 */
export async function runSoakBench(
  options: BenchOptions,
  sandbox: Sandbox,
  progress: Progress,
  busyBefore: number,
): Promise<RunResult> {
  const serviceOptions = serviceOptionsFor(options, sandbox)
  // A killed worker's entries stay pending until another claims them after
  // CLAIM_IDLE_MS (30 s by default): shorter here, so recovery happens within the run.
  serviceOptions.extraEnv = { CLAIM_IDLE_MS: '2000', ...serviceOptions.extraEnv }
  if (sandbox.reused) throw new Error('--soak needs a database of its own: not with --database')
  const lastDay = new Date().toISOString().slice(0, 10)
  // The soak draws its events one at a time from the friendly generator, so it asks the friendly set's queries.
  const queries = statsQueries(lastDay, 'friendly')

  progress(
    `starting the service: queue mode, ${options.workers} worker process(es); soak for ${options.soakSeconds} s, a worker killed every ${options.killEverySeconds} s`,
  )
  const service = await Service.start(serviceOptions)
  let soak, processes
  try {
    soak = await runSoak(service, options, sandbox.databaseUrl!, queries, progress)
    processes = await service.usage()
  } finally {
    await service.stop()
  }

  const engine = openPostgres(sandbox.databaseUrl!, 2)
  try {
    const machine = await describeMachine(engine, options.redisUrl, busyBefore)
    if (options.injectMissingEvent) {
      await engine.query(
        'DELETE FROM events WHERE event_id = (SELECT event_id FROM events LIMIT 1)',
      )
      progress('--inject-missing-event: deleted one event from the store')
    }
    // Only the ids were kept (a long soak accepts millions): the check is on ids, not content.
    await engine.query(`CREATE TABLE ${EXPECTED_TABLE} (event_id uuid NOT NULL)`)
    const ids = soak.acceptedIds
    const chunks: string[] = []
    for (let i = 0; i < ids.length; i += 50_000)
      chunks.push(`${ids.slice(i, i + 50_000).join('\n')}\n`)
    await engine.copyIn(EXPECTED_TABLE, ['event_id'], chunks)
    const check = await checkAfterStop(
      engine,
      serviceOptions,
      { table: EXPECTED_TABLE, compareContent: false, count: ids.length },
      progress,
    )
    return {
      machine,
      lastDay,
      soak: soak.result,
      startup: { firstMs: service.startupMs },
      processes,
      correctness: { ...check, answers: [] },
    }
  } finally {
    await engine.close()
  }
}
