import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { DataDirLockedError, lockDataDir } from '../../src/store/data-dir-lock.ts'

const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!
}

describe('the DATA_DIR lock', {
  skip: existsSync('/proc/self/stat') ? false : 'needs /proc (Linux)',
}, () => {
  let dir: string
  let path: string
  const write = (owner: object, ageMs = 0) => {
    writeFileSync(path, JSON.stringify(owner))
    const t = new Date(Date.now() - ageMs)
    utimesSync(path, t, t)
  }

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ea-lock-'))
    path = join(dir, 'service.lock')
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  test("names its owner: host, PID and the PID's start time; release frees it", () => {
    const release = lockDataDir(path, dir)
    assert.deepEqual(JSON.parse(readFileSync(path, 'utf8')), {
      host: hostname(),
      pid: process.pid,
      start: startOf(process.pid),
    })
    release()
    assert.ok(!existsSync(path))
  })

  test('a live owner with its start time is respected, even with an old lock file', async () => {
    const other = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: 'ignore',
    })
    try {
      await new Promise((r) => other.once('spawn', r))
      write({ host: hostname(), pid: other.pid, start: startOf(other.pid!) }, 60_000)
      assert.throws(() => lockDataDir(path, dir), DataDirLockedError)
      // The same PID with another start time is a reused PID: the owner is gone.
      write({ host: hostname(), pid: other.pid, start: '1' })
      lockDataDir(path, dir)()
    } finally {
      other.kill('SIGKILL')
    }
  })

  test('a dead owner is replaced at once, whatever the age of its lock', async () => {
    const dead = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
    const pid = dead.pid!
    await new Promise((r) => dead.once('exit', r))
    write({ host: hostname(), pid, start: '12345' })
    const release = lockDataDir(path, dir)
    assert.equal(JSON.parse(readFileSync(path, 'utf8')).pid, process.pid)
    release()
  })

  test('an owner on another host is stale only once its lock is no longer touched', () => {
    write({ host: 'elsewhere', pid: 1, start: null })
    assert.throws(
      () => lockDataDir(path, dir),
      /DATA_DIR .* is in use by another event-analytics process/,
    )
    write({ host: 'elsewhere', pid: 1, start: null }, 16_000)
    lockDataDir(path, dir)()
  })

  test("an earlier version's lock (a directory) is stale by age", () => {
    mkdirSync(path)
    assert.throws(() => lockDataDir(path, dir), DataDirLockedError)
    const t = new Date(Date.now() - 16_000)
    utimesSync(path, t, t)
    lockDataDir(path, dir)()
  })
})
