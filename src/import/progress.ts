export interface ProgressState {
  rows: number
  bytes: number
  totalBytes: number
}

export interface ProgressOptions {
  /** where to draw; stdout stays free for the summary */
  out: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }
  /** seconds between plain lines when `out` is not a terminal */
  intervalSeconds: number
  enabled: boolean
}

/**
 * On a terminal, a bar redrawn in place; elsewhere (a log file, CI) one plain
 * line every few seconds and one at the end, because carriage returns and
 * escape codes make a mess of logs.
 */
export class Progress {
  private readonly started = performance.now()
  private readonly tty: boolean
  private readonly everyMs: number
  private last = performance.now()
  private drawn = false
  private drawnState: ProgressState | undefined

  constructor(private readonly options: ProgressOptions) {
    this.tty = options.out.isTTY === true
    this.everyMs = this.tty ? 200 : Math.max(0, options.intervalSeconds * 1000)
  }

  /** Cheap to call per batch: draws only when the interval has passed. */
  update(state: ProgressState): void {
    if (!this.options.enabled) return
    const now = performance.now()
    if (now - this.last < this.everyMs) return
    this.last = now
    this.draw(state, now)
  }

  finish(state: ProgressState): void {
    if (!this.options.enabled) return
    // The last batch may have just drawn this very state.
    const same = this.drawnState?.rows === state.rows && this.drawnState.bytes === state.bytes
    if (!same || this.tty) this.draw(state, performance.now())
    if (this.tty && this.drawn) this.options.out.write('\n')
  }

  private draw(state: ProgressState, now: number): void {
    const seconds = (now - this.started) / 1000
    const rate = seconds > 0 ? state.rows / seconds : 0
    const fraction = state.totalBytes > 0 ? Math.min(1, state.bytes / state.totalBytes) : 1
    // Rows per byte varies little within a file, so bytes are the honest measure of what is left.
    const eta = fraction > 0 && fraction < 1 ? (seconds * (1 - fraction)) / fraction : 0
    const figures = `${formatInt(state.rows)} rows, ${formatBytes(state.bytes)} / ${formatBytes(state.totalBytes)}, ${formatInt(rate)} rows/s`
    if (this.tty) {
      const width = 24
      const filled = Math.round(fraction * width)
      const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%`
      // \r and erase-line: redraw in place, leaving nothing behind when the line shrinks.
      this.options.out.write(`\r\x1b[2K${bar} ${figures}, ETA ${formatDuration(eta)}`)
    } else {
      this.options.out.write(
        `progress: ${figures}, ${(fraction * 100).toFixed(1)}% of the file, ETA ${formatDuration(eta)}\n`,
      )
    }
    this.drawn = true
    this.drawnState = state
  }
}

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = n / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value.toFixed(1)} ${units[unit]}`
}

function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  return m < 60
    ? `${m}m${String(s % 60).padStart(2, '0')}s`
    : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`
}
