import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import type { Mode } from './options.ts'
import { peakRssMb, processCpuSeconds } from './proc.ts'

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const READY_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 10_000
const IDLE_INTERVAL_MS = 200
const IDLE_CPU_SECONDS = 0.01

export interface ServiceOptions {
  mode: Mode
  workers: number
  /** undefined in embedded mode */
  databaseUrl: string | undefined
  redisUrl: string
  redisPrefix: string
  /** DATA_DIR, where the API keeps its DuckDB replica (and PGlite, embedded); give each run its own */
  dataDir: string
  /** DUCKDB_PATH; the bench opens the replica itself once the service has stopped */
  duckdbPath: string
  extraEnv: Record<string, string>
  /** wait for the processes' CPU to settle before returning (default true); off when start-up work is what is measured */
  waitIdle?: boolean
}

export interface ProcessUsage {
  role: string
  pid: number
  /** VmHWM: the most resident memory the process ever had */
  peakRssMb: number | undefined
  /** lines the process wrote; with LOG_LEVEL=warn, each is a warning, an error or a crash */
  logLines: number
  /** times the bench killed and restarted it (--soak) */
  restarts: number
}

/** One role (api, worker-1, ...); its child changes when the soak kills and restarts it. */
interface ServiceProcess {
  role: string
  command: string
  child: ChildProcess
  logLines: number
  /** the highest peak of the incarnations killed so far */
  pastPeakMb: number | undefined
  restarts: number
}

/** The service's API and worker processes, started as an operator would start them. */
export class Service {
  private readonly processes: ServiceProcess[] = []
  /** children the bench SIGKILLed itself: their exit is not a crash */
  private readonly killedOnPurpose = new WeakSet<ChildProcess>()
  private stopping = false
  /** Rejects as soon as any process exits on its own; race long waits against it. */
  readonly crashed: Promise<never>
  private reportCrash: (err: Error) => void = () => {}

  /** ms from spawning the processes until the API answered /health with 200 */
  startupMs = NaN
  private env: NodeJS.ProcessEnv = {}

  private constructor(readonly baseUrl: string) {
    this.crashed = new Promise<never>((_, reject) => {
      this.reportCrash = reject
    })
    // Nobody may be waiting on it yet; the rejection is still seen by later awaits.
    this.crashed.catch(() => {})
  }

  static async start(options: ServiceOptions): Promise<Service> {
    const port = await freePort()
    const service = new Service(`http://127.0.0.1:${port}`)
    service.env = serviceEnv(options, port)
    try {
      const spawned = performance.now()
      // Without worker processes the one process runs every role, the worker included: `npm start`.
      service.spawn(options.mode === 'queue' && options.workers > 0 ? 'api' : 'all', 'api')
      for (let i = 1; i <= options.workers; i++) service.spawn('worker', `worker-${i}`)
      await Promise.race([service.waitHealthy(), service.crashed])
      service.startupMs = performance.now() - spawned
      if (options.waitIdle !== false) await Promise.race([service.waitIdle(), service.crashed])
    } catch (err) {
      await service.stop()
      throw err
    }
    return service
  }

  /** role name → pid, e.g. api, worker-1 */
  get pids(): Record<string, number> {
    return Object.fromEntries(this.processes.map((p) => [p.role, p.child.pid!]))
  }

  /** Peak memory of every process (over all its incarnations); read from /proc, so call it before stop(). */
  async usage(): Promise<ProcessUsage[]> {
    return Promise.all(
      this.processes.map(async (p) => ({
        role: p.role,
        pid: p.child.pid!,
        peakRssMb: maxDefined(await peakRssMb(p.child.pid!), p.pastPeakMb),
        logLines: p.logLines,
        restarts: p.restarts,
      })),
    )
  }

  /**
   * SIGKILL, as a crash or an OOM kill would: no shutdown code runs. Then a new
   * process in the same role, as a supervisor would start one.
   */
  async killAndRestart(role: string): Promise<void> {
    const proc = this.processes.find((p) => p.role === role)
    if (!proc) throw new Error(`no service process named ${role}`)
    const victim = proc.child
    this.killedOnPurpose.add(victim)
    proc.pastPeakMb = maxDefined(await peakRssMb(victim.pid!), proc.pastPeakMb)
    const exited = once(victim, 'exit')
    victim.kill('SIGKILL')
    await exited
    proc.restarts++
    this.launch(proc)
  }

  /**
   * SIGTERM (a graceful shutdown), then SIGKILL for whatever is still running
   * after the timeout. A process that does not exit cleanly is reported: that is a service bug.
   */
  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all(
      this.processes.map(async ({ role, child }) => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
        child.kill('SIGTERM')
        // Unref'd: a pending timer must not keep the benchmark alive after the process exited.
        const timedOut = sleep(STOP_TIMEOUT_MS, undefined, { ref: false }).then(() => undefined)
        let result = await Promise.race([exited, timedOut])
        if (result === undefined) {
          console.error(
            `bench: ${role} (pid ${child.pid}) ignored SIGTERM for ${STOP_TIMEOUT_MS} ms; killing it`,
          )
          child.kill('SIGKILL')
          result = await exited
        }
        // Killed by the signal itself means it had not installed its handler yet (still starting).
        const [code] = result
        if (code !== null && code !== 0)
          console.error(
            `bench: ${role} (pid ${child.pid}) did not shut down cleanly: exit code ${code}`,
          )
      }),
    )
  }

  private spawn(command: string, role: string): void {
    // launch() sets child.
    const proc = {
      role,
      command,
      logLines: 0,
      pastPeakMb: undefined,
      restarts: 0,
    } as ServiceProcess
    this.processes.push(proc)
    this.launch(proc)
  }

  private launch(proc: ServiceProcess): void {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', proc.command], {
      cwd: PROJECT_ROOT,
      env: this.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    proc.child = child
    for (const stream of [child.stdout!, child.stderr!]) {
      // With LOG_LEVEL=warn every line is worth seeing; count them for the report too.
      createInterface({ input: stream }).on('line', (line) => {
        proc.logLines++
        console.error(`[${proc.role}] ${line}`)
      })
    }
    child.on('exit', (code, signal) => {
      if (this.stopping || this.killedOnPurpose.has(child)) return
      this.reportCrash(
        new Error(
          `service process ${proc.role} (pid ${child.pid}) exited early: code ${code}, signal ${signal}`,
        ),
      )
    })
  }

  private async waitHealthy(): Promise<void> {
    await this.poll('the API to answer /health with 200', READY_TIMEOUT_MS, async () => {
      const res = await request(`${this.baseUrl}/health`)
      const text = await res.body.text()
      return res.statusCode === 200 || `${res.statusCode} ${text}`
    })
  }

  /**
   * The API answers /health before every worker has finished loading (tsx
   * compiles TypeScript at start-up), so a run started then would partly measure
   * start-up. A worker blocked on its first queue read uses no CPU: wait until
   * no process has used more than a tick in the last interval. Also what
   * "idle" means before a measurement: the replica's own work after a build
   * (folding rollups) is done.
   */
  async waitIdle(timeoutMs = READY_TIMEOUT_MS): Promise<void> {
    let before = await this.cpuSeconds()
    await this.poll('the service processes to go idle (no CPU used)', timeoutMs, async () => {
      await sleep(IDLE_INTERVAL_MS)
      const now = await this.cpuSeconds()
      const busiest = Math.max(...now.map((s, i) => s - before[i]!))
      before = now
      return (
        busiest <= IDLE_CPU_SECONDS ||
        `a process used ${busiest.toFixed(2)} s of CPU in ${IDLE_INTERVAL_MS} ms`
      )
    })
  }

  private cpuSeconds(): Promise<number[]> {
    return Promise.all(
      this.processes.map(async (p) => (await processCpuSeconds(p.child.pid!)) ?? 0),
    )
  }

  /** Calls `check` every 100 ms until it returns true; anything else is the reason it is not ready yet. */
  private async poll(
    what: string,
    timeoutMs: number,
    check: () => Promise<true | string>,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs
    let last = 'no answer yet'
    while (Date.now() < deadline) {
      try {
        const result = await check()
        if (result === true) return
        last = result
      } catch (err) {
        last = (err as Error).message
      }
      await sleep(100)
    }
    throw new Error(`gave up waiting for ${what} after ${timeoutMs} ms (last: ${last})`)
  }
}

/**
 * Only what the service needs: inheriting the caller's environment would let a
 * stray MAX_BATCH_SIZE or USE_QUEUE change what is measured.
 */
function serviceEnv(options: ServiceOptions, port: number): NodeJS.ProcessEnv {
  // Embedded mode is `npm start` with nothing configured: no PostgreSQL, no Redis.
  const servers =
    options.mode === 'embedded'
      ? {}
      : {
          DATABASE_URL: options.databaseUrl,
          REDIS_URL: options.redisUrl,
          REDIS_KEY_PREFIX: options.redisPrefix,
        }
  return {
    PATH: process.env.PATH,
    ...servers,
    DATA_DIR: options.dataDir,
    DUCKDB_PATH: options.duckdbPath,
    USE_QUEUE: String(options.mode === 'queue'),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    // The benchmark measures throughput, not the per-client rate limit.
    RATE_LIMIT_REQUESTS: '1000000000',
    ...options.extraEnv,
  }
}

function maxDefined(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined ? b : b === undefined ? a : Math.max(a, b)
}

async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('could not find a free port')
  return address.port
}
