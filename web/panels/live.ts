import uPlot from 'uplot'
import { ApiError, getJson } from '../api.ts'
import { formatDuration, formatInt, h } from '../format.ts'
import type { Panel } from '../panel.ts'
import { projectParams } from '../view.ts'

interface SyncLag {
  rows_behind: number
  ms_behind: number
  synced_rows: number
  synced_at: string | null
}

interface QueueStatus {
  enabled: boolean
  /** this project's */
  queued_events?: number
  dead_lettered?: number
  /** the whole queue: only for a service-wide key */
  shared?: { length: number; pending: number; consumers: unknown[] }
  sync?: SyncLag | { error: string }
}

const INTERVAL_MS = 5_000
const KEEP_MS = 10 * 60_000

/**
 * The state of ingestion, polled from /events/queue/status. Events per second
 * are not a figure the API keeps: the page derives them from the replica's
 * synced row count between two polls, so the chart covers the minutes since
 * the page opened (at most the last ten). It polls the project it follows,
 * and only once it has been told one.
 */
export class LivePanel {
  private last: { at: number; rows: number } | undefined
  private readonly rates: Array<[number, number]> = []
  private chart: uPlot | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private polls = 0
  /** undefined until the page knows its project; null on a service without projects */
  private project: string | null | undefined
  private inFlight: AbortController | undefined

  constructor(private readonly panel: Panel) {
    document.addEventListener('visibilitychange', () => {
      if (!document.hidden) this.pollNow()
    })
    new ResizeObserver(() => {
      const plot = this.plotElement()
      if (this.chart && plot.clientWidth > 0)
        this.chart.setSize({ width: plot.clientWidth, height: 120 })
    }).observe(this.plotElement())
  }

  /** Polls `project` from now on; a rate measured in another project is dropped, not carried over. */
  follow(project: string | null): void {
    if (project !== this.project) {
      this.project = project
      this.last = undefined
      this.rates.length = 0
    }
    this.pollNow()
  }

  /** Stops polling and shows why (the project list could not be read). */
  fail(err: unknown): void {
    this.stop()
    this.project = undefined
    this.panel.fail(err)
  }

  pollNow(): void {
    this.stop()
    void this.poll()
  }

  private stop(): void {
    clearTimeout(this.timer)
    this.inFlight?.abort()
  }

  private plotElement(): HTMLElement {
    return this.panel.body.querySelector<HTMLElement>('.chart')!
  }

  private async poll(): Promise<void> {
    let wait = INTERVAL_MS
    // A hidden tab spends none of the key's rate limit; it polls again when shown.
    const project = this.project
    if (document.hidden || project === undefined) return
    const controller = new AbortController()
    this.inFlight = controller
    await this.panel.load(undefined, async () => {
      try {
        this.render(
          await getJson<QueueStatus>(
            '/events/queue/status',
            projectParams(project),
            controller.signal,
          ),
        )
        this.panel.root.dataset.project = project ?? ''
      } catch (err) {
        if (err instanceof ApiError && err.retryAfter) wait = Math.max(wait, err.retryAfter * 1000)
        throw err
      }
      return 'ready'
    })
    if (controller.signal.aborted) return // another poll took over
    this.panel.root.dataset.polls = String(++this.polls)
    this.timer = setTimeout(() => void this.poll(), wait)
  }

  private render(status: QueueStatus): void {
    const now = Date.now()
    const sync = status.sync && 'synced_rows' in status.sync ? status.sync : undefined
    if (sync) {
      if (this.last && sync.synced_rows >= this.last.rows) {
        this.rates.push([
          now / 1000,
          ((sync.synced_rows - this.last.rows) * 1000) / (now - this.last.at),
        ])
        while (this.rates.length > 0 && this.rates[0]![0] < (now - KEEP_MS) / 1000)
          this.rates.shift()
      }
      this.last = { at: now, rows: sync.synced_rows }
    }
    const latest = this.rates.at(-1)?.[1]
    const tile = (
      field: string,
      label: string,
      value: number | undefined,
      text: string,
      hint?: string,
    ) =>
      h(
        'div',
        { class: 'tile', 'data-field': field, 'data-value': value, title: hint },
        h('dt', {}, label),
        h('dd', {}, text),
      )
    const tiles = [
      tile(
        'events_per_second',
        'Events/s',
        latest,
        latest === undefined ? 'measuring…' : formatInt(latest),
        'rows copied into analytics per second, between the last two polls',
      ),
      status.enabled
        ? tile(
            'queued_events',
            'Queue',
            status.queued_events,
            `${formatInt(status.queued_events ?? 0)} events`,
            status.shared
              ? `this project's; ${formatInt(status.shared.length)} requests in the stream (all projects)`
              : "this project's events waiting to be stored",
          )
        : tile(
            'queued_events',
            'Queue',
            undefined,
            'off',
            'events are written directly, without a queue',
          ),
      tile(
        'pending',
        'Pending',
        status.shared?.pending,
        status.enabled && status.shared ? formatInt(status.shared.pending) : '–',
        status.shared
          ? 'requests delivered to a worker, not yet acknowledged (all projects)'
          : 'the whole queue is shown to service-wide keys only',
      ),
      tile(
        'dead_lettered',
        'Dead-lettered',
        status.dead_lettered,
        status.enabled ? formatInt(status.dead_lettered ?? 0) : '–',
        "this project's entries that failed every attempt",
      ),
      sync
        ? tile(
            'sync_lag',
            'Sync lag',
            sync.rows_behind,
            sync.rows_behind === 0
              ? 'up to date'
              : `${formatInt(sync.rows_behind)} rows, ${formatDuration(sync.ms_behind)}`,
            'stored rows not yet in analytics',
          )
        : tile(
            'sync_lag',
            'Sync lag',
            undefined,
            status.sync && 'error' in status.sync ? 'unknown' : '–',
            status.sync && 'error' in status.sync ? status.sync.error : 'no analytics here',
          ),
      tile(
        'synced_rows',
        'In analytics',
        sync?.synced_rows,
        sync ? formatInt(sync.synced_rows) : '–',
        'rows in the analytics replica',
      ),
    ]
    this.panel.body.querySelector('.tiles')!.replaceChildren(...tiles)
    this.panel.body.hidden = false
    this.drawChart()
  }

  private drawChart(): void {
    const data: uPlot.AlignedData = [this.rates.map((r) => r[0]), this.rates.map((r) => r[1])]
    if (this.chart) {
      this.chart.setData(data)
      return
    }
    const plot = this.plotElement()
    this.chart = new uPlot(
      {
        width: plot.clientWidth || 400,
        height: 120,
        series: [
          {},
          {
            label: 'events/s',
            stroke: '#059669',
            width: 2,
            fill: 'rgba(5, 150, 105, 0.08)',
            value: (_u, v) => (v == null ? '–' : formatInt(v)),
          },
        ],
        scales: { y: { range: (_u, _min, max) => [0, Math.max(10, max) * 1.1] } },
        axes: [{}, { values: (_u, ticks) => ticks.map((t) => formatInt(t)), size: 50 }],
        legend: { show: false },
      },
      data,
      plot,
    )
  }
}
