import uPlot from 'uplot'
import { ApiError, getJson } from '../api.ts'
import { formatDuration, formatInt, h } from '../format.ts'
import type { Panel } from '../panel.ts'

interface SyncLag {
  rows_behind: number
  ms_behind: number
  synced_rows: number
  synced_at: string | null
}

interface QueueStatus {
  enabled: boolean
  length?: number
  queued_events?: number
  pending?: number
  dead_lettered?: number
  consumers?: unknown[]
  sync?: SyncLag | { error: string }
}

const INTERVAL_MS = 5_000
const KEEP_MS = 10 * 60_000

/**
 * The state of ingestion, polled from /events/queue/status. Events per second
 * are not a figure the API keeps: the page derives them from the replica's
 * synced row count between two polls, so the chart covers the minutes since
 * the page opened (at most the last ten).
 */
export class LivePanel {
  private last: { at: number; rows: number } | undefined
  private readonly rates: Array<[number, number]> = []
  private chart: uPlot | undefined
  private timer: ReturnType<typeof setTimeout> | undefined
  private polls = 0

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

  pollNow(): void {
    clearTimeout(this.timer)
    void this.poll()
  }

  private plotElement(): HTMLElement {
    return this.panel.body.querySelector<HTMLElement>('.chart')!
  }

  private async poll(): Promise<void> {
    let wait = INTERVAL_MS
    // A hidden tab spends none of the key's rate limit; it polls again when shown.
    if (document.hidden) return
    await this.panel.load(undefined, async () => {
      try {
        this.render(await getJson<QueueStatus>('/events/queue/status'))
      } catch (err) {
        if (err instanceof ApiError && err.retryAfter) wait = Math.max(wait, err.retryAfter * 1000)
        throw err
      }
      return 'ready'
    })
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
            `${formatInt(status.length ?? 0)} requests in the stream`,
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
        status.pending,
        status.enabled ? formatInt(status.pending ?? 0) : '–',
        'delivered to a worker, not yet acknowledged',
      ),
      tile(
        'dead_lettered',
        'Dead-lettered',
        status.dead_lettered,
        status.enabled ? formatInt(status.dead_lettered ?? 0) : '–',
        'entries that failed every attempt',
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
