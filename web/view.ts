// What the page shows (the project, the range and the filters) lives in the
// URL's query string, so a view can be shared by its link and the back button works.

export interface View {
  from: string
  to: string
  segments: string[]
  /** the project's name; null only on a service that has no projects to name */
  project: string | null
}

const DAY = /^\d{4}-\d{2}-\d{2}$/
const DAY_MS = 86_400_000

export function readUrl(): {
  from?: string
  to?: string
  segments: string[]
  project?: string
} {
  const q = new URLSearchParams(location.search)
  const from = q.get('from') ?? undefined
  const to = q.get('to') ?? undefined
  return {
    from: from && DAY.test(from) ? from : undefined,
    to: to && DAY.test(to) ? to : undefined,
    segments: q.getAll('segment'),
    project: q.get('project') || undefined,
  }
}

export function writeUrl(view: View, mode: 'push' | 'replace'): void {
  const url = `${location.pathname}?${statsParams(view).toString()}`
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
