import { readFile } from 'node:fs/promises'

// Readers for Linux /proc: cheap enough to call around a run without
// disturbing it. A process that is gone (or not on this machine) reads as undefined.

// Linux reports CPU times in clock ticks; USER_HZ is 100 on every mainstream platform.
const CLOCK_TICKS_PER_SECOND = 100

export interface MachineCpu {
  busySeconds: number
  totalSeconds: number
}

/** All cores together, from the first line of /proc/stat. */
export async function machineCpu(): Promise<MachineCpu> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n', 1)[0]!
  // cpu user nice system idle iowait irq softirq steal ...
  const ticks = line.trim().split(/\s+/).slice(1, 9).map(Number)
  const total = ticks.reduce((a, b) => a + b, 0)
  const idle = ticks[3]! + ticks[4]!
  return {
    busySeconds: (total - idle) / CLOCK_TICKS_PER_SECOND,
    totalSeconds: total / CLOCK_TICKS_PER_SECOND,
  }
}

/** User + system CPU seconds of a process, if it runs here and its name starts with `command`. */
export async function processCpuSeconds(
  pid: number,
  command?: string,
): Promise<number | undefined> {
  const stat = await readProc(pid, 'stat')
  if (stat === undefined) return undefined
  const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
  if (command !== undefined && !name.startsWith(command)) return undefined
  // The fields after the name, which may itself hold spaces: utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND
}

/** VmHWM: the most resident memory the process ever had, in MB. */
export async function peakRssMb(pid: number): Promise<number | undefined> {
  const kb = /^VmHWM:\s+(\d+) kB/m.exec((await readProc(pid, 'status')) ?? '')?.[1]
  return kb === undefined ? undefined : Math.round(Number(kb) / 1024)
}

async function readProc(pid: number, file: string): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/${file}`, 'utf8')
  } catch {
    return undefined
  }
}
