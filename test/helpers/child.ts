import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { waitFor } from './events.ts'

const MAIN = fileURLToPath(new URL('../../src/main.ts', import.meta.url))

export interface ServiceProcess {
  child: ChildProcess
  /** everything it wrote to stdout, for log assertions */
  output(): string
  exited: Promise<number | null>
}

/**
 * Runs a role of the real service as its own process, the way `npm run worker` does.
 * Like startTestApp, it never meets a rate limit unless `env` sets one: a test that
 * polls the child must not run out of tokens when the machine is slow.
 */
export function spawnService(
  role: 'all' | 'api' | 'worker',
  env: Record<string, string>,
): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, role], {
    env: { PATH: process.env.PATH, RATE_LIMIT_REQUESTS: '1000000000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output: () => out, exited }
}

/**
 * How long a wait that includes a child's start-up may take. Embedded start-up
 * (PGlite's initdb, WASM compilation) is seconds on an idle machine and took
 * 87 s on a loaded 2-core one; this only bounds a hang.
 */
export const STARTUP_TIMEOUT_MS = 180_000

/** Resolves once a service on this port answers /health with 200; fails at once, with its output, if `service` exits first. */
export async function untilHealthy(port: number, service?: ServiceProcess): Promise<void> {
  const probe = async () => {
    const { exitCode, signalCode } = service?.child ?? {}
    if (exitCode != null || signalCode != null) {
      throw new Error(
        `the service exited (${exitCode ?? signalCode}) before answering /health:\n${service!.output()}`,
      )
    }
    return fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.status,
      () => 0,
    )
  }
  await waitFor('the service to answer /health', probe, (s) => s === 200, STARTUP_TIMEOUT_MS, 100)
}
