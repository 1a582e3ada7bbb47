import uPlot from 'uplot'
import { formatInt } from '../format.ts'

// The insights' line charts (trends, active users): uPlot, as the overview's,
// one chart per panel, replaced on each load (the old one destroyed, so its
// window listeners go with it) and kept as wide as the panel.

const charts = new WeakMap<HTMLElement, uPlot>()
const observed = new WeakSet<HTMLElement>()
const HEIGHT = 260

export interface Line {
  label: string
  stroke: string
  values: Array<number | null>
  /** the previous period, drawn dashed */
  dashed?: boolean
}

/** Draws the chart into `container`, replacing the one `owner` (the panel's body) had. */
export function lineChart(
  owner: HTMLElement,
  container: HTMLElement,
  x: number[],
  lines: Line[],
  xLabel: string,
): void {
  charts.get(owner)?.destroy()
  const chart = new uPlot(
    {
      width: container.clientWidth || 600,
      height: HEIGHT,
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
      scales: { y: { range: (_u, min, max) => [Math.min(0, min), Math.max(1, max) * 1.1] } },
      series: [
        { label: xLabel },
        ...lines.map((l) => ({
          label: l.label,
          stroke: l.stroke,
          width: 2,
          ...(l.dashed ? { dash: [6, 4] } : {}),
          points: { show: x.length <= 62 },
          value: (_u: uPlot, v: number | null) =>
            v == null ? '–' : Number.isInteger(v) ? formatInt(v) : v.toFixed(2),
        })),
      ],
      axes: [{}, { values: (_u, ticks) => ticks.map((t) => formatInt(t)), size: 56 }],
    },
    [x, ...lines.map((l) => l.values)],
    container,
  )
  charts.set(owner, chart)
  if (!observed.has(owner)) {
    observed.add(owner)
    new ResizeObserver(() => {
      const c = charts.get(owner)
      const width = c?.root.parentElement?.clientWidth ?? 0
      if (c && width > 0) c.setSize({ width, height: HEIGHT })
    }).observe(owner)
  }
}
