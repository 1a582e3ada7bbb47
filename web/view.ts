// What the page shows (the project, the range, the filters and, on the
// insights page, which insight with its parameters) lives in the URL's query
// string, so a view can be shared by its link and the back button works.

/** One insight and its own parameters, named as its /stats endpoint names them. */
export interface InsightQuery {
  name: string
  params: Array<[string, string]>
}

export interface View {
  from: string
  to: string
  segments: string[]
  /** the project's name; null only on a service that has no projects to name */
  project: string | null
  /** set on the insights page; absent on the overview */
  insight?: InsightQuery
}

/** The parameters the page itself owns; every other one belongs to the insight shown. */
const OWN = new Set(['from', 'to', 'segment', 'project', 'page', 'insight'])

const DAY = /^\d{4}-\d{2}-\d{2}$/
const DAY_MS = 86_400_000

export function readUrl(): {
  from?: string
  to?: string
  segments: string[]
  project?: string
  insight?: InsightQuery
} {
  const q = new URLSearchParams(location.search)
  const insight =
    q.get('page') === 'insights'
      ? {
          name: q.get('insight') ?? '',
          params: [...q].filter(([k]) => !OWN.has(k)),
        }
      : undefined
  const from = q.get('from') ?? undefined
  const to = q.get('to') ?? undefined
  return {
    from: from && DAY.test(from) ? from : undefined,
    to: to && DAY.test(to) ? to : undefined,
    segments: q.getAll('segment'),
    project: q.get('project') || undefined,
    insight,
  }
}

export function writeUrl(view: View, mode: 'push' | 'replace'): void {
  const q = statsParams(view)
  if (view.insight) {
    q.set('page', 'insights')
    q.set('insight', view.insight.name)
    for (const [k, v] of view.insight.params) q.append(k, v)
  }
  const url = `${location.pathname}?${q.toString()}`
  if (url === `${location.pathname}${location.search}`) return
  if (mode === 'push') history.pushState(null, '', url)
  else history.replaceState(null, '', url)
}

/** from, to, every segment and the project, as the stats endpoints take them. */
export function statsParams(view: View): URLSearchParams {
  const q = new URLSearchParams({ from: view.from, to: view.to })
  for (const s of view.segments) q.append('segment', s)
  if (view.project !== null) q.set('project', view.project)
  return q
}

/** `project=` alone, for the routes that take nothing else (the data range, the queue status). */
export function projectParams(project: string | null): URLSearchParams {
  return new URLSearchParams(project === null ? {} : { project })
}

export function addDays(day: string, n: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + n * DAY_MS).toISOString().slice(0, 10)
}

export function today(): string {
  return new Date().toISOString().slice(0, 10)
}

/** Days from `from` to `to`, both included. */
export function spanDays(from: string, to: string): number {
  return Math.round((Date.parse(to) - Date.parse(from)) / DAY_MS) + 1
}
