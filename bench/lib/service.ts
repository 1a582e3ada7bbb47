import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import type { Mode } from './options.ts'

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url))
const HEALTH_TIMEOUT_MS = 60_000
const STOP_TIMEOUT_MS = 10_000

export interface ServiceOptions {
  mode: Mode
  workers: number
  databaseUrl: string
  redisUrl: string
  redisPrefix: string
  extraEnv: Record<string, string>
}

export interface ProcessUsage {
  role: string
  pid: number
  /** VmHWM: the most resident memory the process ever had */
  peakRssMb: number
  /** user + system CPU time */
  cpuSeconds: number
  /** lines the process wrote; with LOG_LEVEL=warn, each is a warning, an error or a crash */
  logLines: number
}

interface ServiceProcess {
  role: string
  child: ChildProcess
  logLines: number
}

/** The service's API and worker processes, started as an operator would start them. */
export class Service {
  private stopping = false
  /** Rejects as soon as any process exits on its own; race long waits against it. */
  readonly crashed: Promise<never>
  private reportCrash: (err: Error) => void = () => {}

  private constructor(readonly baseUrl: string, private readonly processes: ServiceProcess[] = []) {
    this.crashed = new Promise<never>((_, reject) => {
      this.reportCrash = reject
    })
    // Nobody may be waiting on it yet; the rejection is still seen by later awaits.
    this.crashed.catch(() => {})
  }

  static async start(options: ServiceOptions): Promise<Service> {
    const port = await freePort()
    const service = new Service(`http://127.0.0.1:${port}`)
    const env = serviceEnv(options, port)
    try {
      service.spawn(options.mode === 'queue' ? 'api' : 'all', 'api', env)
      for (let i = 1; i <= options.workers; i++) service.spawn('worker', `worker-${i}`, env)
      await Promise.race([service.waitHealthy(), service.crashed])
    } catch (err) {
      await service.stop()
      throw err
    }
    return service
  }

  /** Peak memory and CPU of every process; read from /proc, so call it before stop(). */
  async usage(): Promise<ProcessUsage[]> {
    return Promise.all(this.processes.map(async (p) => ({ role: p.role, pid: p.child.pid!, logLines: p.logLines, ...(await procUsage(p.child.pid!)) })))
  }

  /** SIGTERM (a graceful shutdown), then SIGKILL for whatever is still running after the timeout. */
  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all(this.processes.map(async ({ child }) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const exited = once(child, 'exit')
      const timedOut = sleep(STOP_TIMEOUT_MS).then(() => 'timeout' as const)
      if ((await Promise.race([exited, timedOut])) === 'timeout') {
        console.error(`bench: pid ${child.pid} ignored SIGTERM for ${STOP_TIMEOUT_MS} ms; killing it`)
        child.kill('SIGKILL')
        await exited
      }
    }))
  }

  private spawn(role: string, name: string, env: NodeJS.ProcessEnv): void {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', role], {
      cwd: PROJECT_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const proc: ServiceProcess = { role: name, child, logLines: 0 }
    this.processes.push(proc)
    for (const stream of [child.stdout!, child.stderr!]) {
      // With LOG_LEVEL=warn every line is worth seeing; count them for the report too.
      createInterface({ input: stream }).on('line', (line) => {
        proc.logLines++
        console.error(`[${name}] ${line}`)
      })
    }
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.reportCrash(new Error(`service process ${name} (pid ${child.pid}) exited early: code ${code}, signal ${signal}`))
    })
  }

  private async waitHealthy(): Promise<void> {
    const deadline = Date.now() + HEALTH_TIMEOUT_MS
    let last = 'no answer yet'
    while (Date.now() < deadline) {
      try {
        const res = await request(`${this.baseUrl}/health`)
        const text = await res.body.text()
        if (res.statusCode === 200) return
        last = `${res.statusCode} ${text}`
      } catch (err) {
        last = (err as Error).message
      }
      await sleep(100)
    }
    throw new Error(`the API did not become healthy within ${HEALTH_TIMEOUT_MS} ms (last: ${last})`)
  }
}

/**
 * Only what the service needs: inheriting the caller's environment would let a
 * stray MAX_BATCH_SIZE or USE_QUEUE change what is measured.
 */
function serviceEnv(options: ServiceOptions, port: number): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl,
    REDIS_KEY_PREFIX: options.redisPrefix,
    USE_QUEUE: String(options.mode === 'queue'),
    PORT: String(port),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ...options.extraEnv,
  }
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

// Linux reports CPU times in clock ticks; USER_HZ is 100 on every mainstream platform.
const CLOCK_TICKS_PER_SECOND = 100

async function procUsage(pid: number): Promise<{ peakRssMb: number; cpuSeconds: number }> {
  const [status, stat] = await Promise.all([readFile(`/proc/${pid}/status`, 'utf8'), readFile(`/proc/${pid}/stat`, 'utf8')])
  const hwmKb = Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN)
  // Fields after the command name, which may itself hold spaces: utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return { peakRssMb: Math.round(hwmKb / 1024), cpuSeconds: Math.round((ticks / CLOCK_TICKS_PER_SECOND) * 10) / 10 }
}
