// GET /stats/funnel written plainly from the definition, as the
// oracle the endpoint is compared with. It walks each user's events one
// attempt at a time, with no cleverness:
// - A user's events are the ones the segment keeps, in time order; events at
//   the same instant in the store's order (seq): the caller passes batches
//   through storeOrder.
// - Every event of step 1 on a day in [from, to] starts an attempt (in
//   unordered mode, every event of any step).
// - ordered/strict: step k is the first event (time, then the store's order) that
//   matches step k, is at or after the step k−1 event's time, is not already
//   a step of this attempt, and is no later than the step-1 time + window.
//   strict: also, no event of the user strictly between the two steps' times.
// - unordered: the attempt reaches the steps that have a matching event in
//   [t0, t0 + window], t0 its first event's time; the k-th step's time is the
//   k-th smallest of those steps' first times.
// - The counted attempt: most steps, then the earliest start. An excluded
//   event strictly between the times of two consecutive reached steps (of a
//   pair it applies to) removes the user.
// - Times in microseconds; median the middle one or the mean of the two
//   middle ones; conversion in percent, one decimal, halves away from zero.
import {
  compareCodePoints,
  dedupe,
  percentOneDecimal,
  type ReferenceEvent,
  utcDay,
} from './reference.ts'
import { jsonType, valueAt } from './reference-segment.ts'

export interface RefStep {
  type: string
  /** the step's own filters */
  keep?: (e: ReferenceEvent) => boolean
}

export interface RefFunnel {
  steps: RefStep[]
  windowUs: number
  order: 'ordered' | 'strict' | 'unordered'
  exclusions?: Array<{ type: string; after?: number }>
  breakdown?: { path: string[]; step: number; limit: number }
}

export interface RefStepRow {
  step: number
  event_type: string
  users: number
  conversion_from_first: number
  conversion_from_previous: number
  drop_off: number
  median_seconds: number | null
  mean_seconds: number | null
}

interface Ev {
  e: ReferenceEvent
  t: number
  seq: number
}

interface Counted {
  user: string
  times: number[]
  /** the event of each reached step (ordered modes), or the start (unordered) */
  events: Ev[]
}

const usOf = (occurredAt: string) => new Date(occurredAt).getTime() * 1000

function matches(step: RefStep, ev: Ev): boolean {
  return ev.e.event_type === step.type && (step.keep ? step.keep(ev.e) : true)
}

function orderedAttempt(
  spec: RefFunnel,
  evs: Ev[],
  start: number,
): { times: number[]; events: Ev[] } {
  const used = new Set([start])
  const chosen = [evs[start]!]
  for (let k = 1; k < spec.steps.length; k++) {
    const prev = chosen[chosen.length - 1]!
    let next = -1
    for (let j = 0; j < evs.length; j++) {
      if (used.has(j) || evs[j]!.t < prev.t || !matches(spec.steps[k]!, evs[j]!)) continue
      next = j // evs are sorted: the first found is the first by (time, seq)
      break
    }
    if (next < 0 || evs[next]!.t > chosen[0]!.t + spec.windowUs) break
    if (spec.order === 'strict' && evs.some((x) => x.t > prev.t && x.t < evs[next]!.t)) break
    used.add(next)
    chosen.push(evs[next]!)
  }
  return { times: chosen.map((c) => c.t), events: chosen }
}

function unorderedAttempt(
  spec: RefFunnel,
  evs: Ev[],
  start: number,
): { times: number[]; events: Ev[] } {
  const t0 = evs[start]!.t
  const times: number[] = []
  for (const step of spec.steps) {
    const first = evs.find((x) => x.t >= t0 && x.t <= t0 + spec.windowUs && matches(step, x))
    if (first) times.push(first.t)
  }
  times.sort((a, b) => a - b)
  return { times, events: [evs[start]!] }
}

function countedUsers(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  spec: RefFunnel,
  keep: (e: ReferenceEvent) => boolean,
): Counted[] {
  const byUser = new Map<string, Ev[]>()
  dedupe(events).forEach((e, seq) => {
    if (!keep(e)) return
    const list = byUser.get(e.user_id) ?? []
    list.push({ e, t: usOf(e.occurred_at), seq })
    byUser.set(e.user_id, list)
  })
  const out: Counted[] = []
  for (const [user, evs] of byUser) {
    evs.sort((a, b) => a.t - b.t || a.seq - b.seq)
    let best: { times: number[]; events: Ev[]; start: Ev } | undefined
    evs.forEach((ev, i) => {
      const day = utcDay(ev.e.occurred_at)
      if (day < from || day > to) return
      const starts =
        spec.order === 'unordered'
          ? spec.steps.some((s) => matches(s, ev))
          : matches(spec.steps[0]!, ev)
      if (!starts) return
      const a =
        spec.order === 'unordered' ? unorderedAttempt(spec, evs, i) : orderedAttempt(spec, evs, i)
      const earlier = (x: Ev, y: Ev) => x.t < y.t || (x.t === y.t && x.seq < y.seq)
      if (
        !best ||
        a.times.length > best.times.length ||
        (a.times.length === best.times.length && earlier(ev, best.start))
      )
        best = { ...a, start: ev }
    })
    if (!best) continue
    const times = best.times
    const voided = (spec.exclusions ?? []).some((x) =>
      times.slice(1).some((t, i) => {
        const pair = i + 1
        if (x.after !== undefined && x.after !== pair) return false
        return evs.some((o) => o.e.event_type === x.type && o.t > times[i]! && o.t < t)
      }),
    )
    if (!voided) out.push({ user, times, events: best.events })
  }
  return out
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function stepRows(spec: RefFunnel, users: Counted[]): RefStepRow[] {
  const reached = (k: number) => users.filter((u) => u.times.length >= k)
  return spec.steps.map((step, i) => {
    const k = i + 1
    const n = reached(k).length
    const before = k === 1 ? n : reached(k - 1).length
    const diffs = reached(k).map((u) => u.times[k - 1]! - u.times[k - 2]!)
    return {
      step: k,
      event_type: step.type,
      users: n,
      conversion_from_first: percentOneDecimal(n, reached(1).length),
      conversion_from_previous: percentOneDecimal(n, before),
      drop_off: before - n,
      median_seconds: k === 1 || n === 0 ? null : median(diffs) / 1e6,
      mean_seconds: k === 1 || n === 0 ? null : diffs.reduce((a, b) => a + b, 0) / n / 1e6,
    }
  })
}

export function referenceFunnel(
  events: readonly ReferenceEvent[],
  from: string,
  to: string,
  spec: RefFunnel,
  keep: (e: ReferenceEvent) => boolean = () => true,
): unknown {
  const users = countedUsers(events, from, to, spec, keep)
  const answer: Record<string, unknown> = {
    order: spec.order,
    window_seconds: spec.windowUs / 1e6,
    steps: stepRows(spec, users),
  }
  const b = spec.breakdown
  if (!b) return answer
  const groups = new Map<string, { type: string; text: string; value: unknown; users: Counted[] }>()
  const notSet: Counted[] = []
  for (const u of users) {
    const ev = u.events[b.step - 1]
    const value = ev ? valueAt(ev.e, b.path) : undefined
    if (value === undefined) {
      notSet.push(u)
      continue
    }
    const type = jsonType(value)
    const text = typeof value === 'string' ? value : value === null ? '' : JSON.stringify(value)
    const key = `${type}\u0000${text}`
    const g = groups.get(key) ?? {
      type,
      text,
      value: JSON.parse(JSON.stringify(value)),
      users: [] as Counted[],
    }
    g.users.push(u)
    groups.set(key, g)
  }
  const sorted = [...groups.values()].sort(
    (x, y) =>
      y.users.length - x.users.length ||
      compareCodePoints(x.type, y.type) ||
      compareCodePoints(x.text, y.text),
  )
  const rest = sorted.slice(b.limit)
  answer.breakdown = {
    by: `properties.${b.path.join('.')}`,
    step: b.step,
    values: sorted
      .slice(0, b.limit)
      .map((g) => ({ value: g.value, steps: stepRows(spec, g.users) })),
    other: {
      values: rest.length,
      steps: stepRows(
        spec,
        rest.flatMap((g) => g.users),
      ),
    },
    not_set: { steps: stepRows(spec, notSet) },
  }
  return answer
}
