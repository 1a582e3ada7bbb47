import { randomBytes } from 'node:crypto'
import {
  linkSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { hostname } from 'node:os'

export class DataDirLockedError extends Error {}

// PGlite takes no lock of its own, and two processes writing one data
// directory would corrupt it. The lock file names its owner: host, PID and
// the PID's start time (so a PID reused after a crash is not taken for the
// owner). On this host an owner that is gone is replaced at once; an owner on
// another host (or another PID namespace: a container) cannot be checked, so
// its lock is stale only once it stops being touched.
const HEARTBEAT_MS = 5_000
const STALE_MS = 15_000

interface Owner {
  host: string
  pid: number
  /** the process's start time as the kernel counts it; null where /proc is not there */
  start: string | null
}

/** Field 22 of /proc/<pid>/stat, after the command name (which may hold spaces and parentheses). */
function startTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null
  } catch {
    return null
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function ownerAlive(owner: Owner): boolean {
  if (owner.host !== hostname()) return false // decided by the heartbeat alone
  // A container restarted after a kill may well have our PID again: then the lock is a previous life's.
  if (owner.pid === process.pid || !alive(owner.pid)) return false
  return owner.start === null || startTime(owner.pid) === owner.start
}

function readOwner(path: string): Owner | undefined {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Owner
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? owner : undefined
  } catch {
    return undefined
  }
}

/**
 * Takes `path` for this process, or throws DataDirLockedError naming `what`.
 * Returns the release function; the lock is touched every few seconds while held.
 */
export function lockDataDir(path: string, what: string): () => void {
  const me: Owner = { host: hostname(), pid: process.pid, start: startTime(process.pid) }
  const content = JSON.stringify(me)
  // Written whole under another name, then linked: a lock is never seen half written.
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  writeFileSync(draft, content)
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, path)
        break
      } catch (err) {
        if (
          (err as NodeJS.ErrnoException).code !== 'EEXIST' ||
          attempt >= 2 ||
          !takeOverIfStale(path)
        ) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
            throw new DataDirLockedError(
              `DATA_DIR ${what} is in use by another event-analytics process; stop it, or give this one its own DATA_DIR`,
            )
          }
          throw err
        }
      }
    }
  } finally {
    rmSync(draft, { force: true })
  }
  const heartbeat = setInterval(() => {
    const now = new Date()
    try {
      utimesSync(path, now, now)
    } catch {
      // Removed under us: nothing to keep alive; the next start decides anew.
    }
  }, HEARTBEAT_MS)
  heartbeat.unref()
  return () => {
    clearInterval(heartbeat)
    if (readOwner(path)?.pid === me.pid && readOwner(path)?.start === me.start)
      rmSync(path, { force: true })
  }
}

/** Removes the lock at `path` when its owner is gone; whether it did. */
function takeOverIfStale(path: string): boolean {
  let stat
  try {
    stat = statSync(path)
  } catch {
    return true // released meanwhile: try again
  }
  const fresh = Date.now() - stat.mtimeMs < STALE_MS
  // A directory is the lock of earlier versions (proper-lockfile): only its age can tell.
  if (stat.isDirectory()) {
    if (fresh) return false
    rmSync(path, { recursive: true, force: true })
    return true
  }
  const owner = readOwner(path)
  if (owner ? ownerAlive(owner) || (owner.host !== hostname() && fresh) : fresh) return false
  // Moved aside before removal, so a process that took the lock meanwhile keeps it:
  // if what was moved is not the stale lock just judged, it goes back.
  const aside = `${path}.stale.${process.pid}.${randomBytes(4).toString('hex')}`
  try {
    renameSync(path, aside)
  } catch {
    return true
  }
  const moved = readOwner(aside)
  if (
    owner &&
    moved &&
    (moved.pid !== owner.pid || moved.start !== owner.start || moved.host !== owner.host)
  ) {
    try {
      linkSync(aside, path)
    } catch {
      // Someone holds it again already; the moved one was theirs or stale either way.
    }
    unlinkSync(aside)
    return false
  }
  unlinkSync(aside)
  return true
}
