import uPlot from 'uplot'
import { formatInt } from '../format.ts'

// The insights' line charts (trends, active users): uPlot, as the overview's,
// one chart per panel, replaced on each load and kept as wide as the panel.

const charts = new WeakMap<HTMLElement, uPlot>()
const HEIGHT = 260

export interface Line {
  label: string
  stroke: string
  values: Array<number | null>
  /** the previous period, drawn dashed */
  dashed?: boolean
}

export function lineChart(
  container: HTMLElement,
  x: number[],
  lines: Line[],
  xLabel: string,
): void {
  charts.get(container)?.destroy()
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
  charts.set(container, chart)
  if (!observed.has(container)) {
    observed.add(container)
    new ResizeObserver(() => {
      const c = charts.get(container)
      if (c && container.clientWidth > 0)
        c.setSize({ width: container.clientWidth, height: HEIGHT })
    }).observe(container)
  }
}

const observed = new WeakSet<HTMLElement>()
