import { getJson } from '../api.ts'
import { formatDay, formatInt, formatRate, h } from '../format.ts'
import type { Outcome, Panel } from '../panel.ts'
import { statsParams, type View } from '../view.ts'

interface Cohort {
  start_date: string
  cohort_size: number
  retention: Array<{
    week: number
    week_start: string
    retained_users: number
    retention_rate: number
  }>
}

/**
 * Weekly cohorts as a heat map: one row per cohort week of the range, one
 * column per week after it, each cell the rate and the users behind it.
 */
export async function loadRetention(
  panel: Panel,
  view: View,
  signal: AbortSignal,
  rangeHasEvents: () => Promise<boolean>,
): Promise<Outcome> {
  const { cohorts } = await getJson<{ cohorts: Cohort[] }>(
    '/stats/cohorts',
    statsParams(view),
    signal,
  )
  if (cohorts.every((c) => c.cohort_size === 0)) {
    // Events in the range but no cohort: everyone active then was first seen before it.
    return (await rangeHasEvents())
      ? { empty: 'No cohorts: no user was seen for the first time in this range.' }
      : 'empty'
  }
  const weeks = Math.max(0, ...cohorts.map((c) => c.retention.length))
  // Shade against the best cell, so low but different rates stay apart.
  const top = Math.max(1, ...cohorts.flatMap((c) => c.retention.map((w) => w.retention_rate)))

  const head = h(
    'tr',
    {},
    h('th', { scope: 'col' }, 'Cohort'),
    h('th', { scope: 'col', class: 'num' }, 'Users'),
  )
  for (let k = 1; k <= weeks; k++) head.append(h('th', { scope: 'col', class: 'num' }, `Week ${k}`))
  const body = cohorts.map((c) => {
    const row = h(
      'tr',
      { 'data-cohort': c.start_date, 'data-size': c.cohort_size },
      h(
        'th',
        { scope: 'row', title: `users first seen in the week from ${c.start_date}` },
        formatDay(c.start_date),
      ),
      h('td', { class: 'num size' }, formatInt(c.cohort_size)),
    )
    for (let k = 1; k <= weeks; k++) {
      const w = c.retention[k - 1]
      if (!w) {
        row.append(h('td', { class: 'future' })) // that week is past the range
        continue
      }
      const cell = h(
        'td',
        {
          class: 'cell',
          'data-week': w.week,
          'data-retained': w.retained_users,
          'data-rate': w.retention_rate,
          title: `${formatInt(w.retained_users)} of ${formatInt(c.cohort_size)} users came back in the week from ${w.week_start}`,
        },
        h('span', { class: 'rate' }, c.cohort_size === 0 ? '–' : formatRate(w.retention_rate)),
        h('span', { class: 'count' }, formatInt(w.retained_users)),
      )
      const strength = Math.min(1, w.retention_rate / top)
      cell.style.backgroundColor = `rgba(37, 99, 235, ${0.06 + 0.84 * strength})`
      if (strength > 0.55) cell.classList.add('dark')
      row.append(cell)
    }
    return row
  })
  panel.body.querySelector('table.heatmap thead')!.replaceChildren(head)
  panel.body.querySelector('table.heatmap tbody')!.replaceChildren(...body)
  return 'ready'
}
