import { spawn, type ChildProcess } from 'node:child_process'
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
export function spawnService(role: 'all' | 'api' | 'worker', env: Record<string, string>): ServiceProcess {
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

/** Resolves once a service on this port answers /health with 200. */
export async function untilHealthy(port: number): Promise<void> {
  await waitFor('the service to answer /health', () => fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0), (s) => s === 200, 60_000, 100)
}
