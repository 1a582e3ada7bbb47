// /stats/paths written plainly, as the oracle the endpoint is compared with
// (README, "Paths"):
// - the events are those of the range's days that the filters keep, in the
//   store's order: by time, and at one instant by arrival (batches in the
//   order posted, each batch's rows by lowercase event_id: storeOrder);
// - a visit is a user's such events with no gap over 30 minutes (exactly 30
//   minutes stays in it), as test/stats/web-reference.ts forms them;
// - a node is the event type, or page:<path> for a page view whose path is a
//   string or a number; a run of one name is one node;
// - start: from the visit's first node with the anchor's name, `steps` nodes,
//   numbered from 1; end: up to its last such node, which is step `steps`;
// - a transition is a node and the next one of the same visit, at the first
//   one's step: users are distinct users, events the visits (one visit has a
//   transition at most once per step);
// - transitions by users, events (both descending), then step, from and to
//   (code point order), the first `limit`; nodes: the anchor's and those the
//   kept transitions touch, by step, users descending, then name.
// Times here are milliseconds: the tests send none finer.
import { compareCodePoints, dedupe, type ReferenceEvent, storeOrder, utcDay } from './reference.ts'
import { type Filter, matchesAll } from './reference-segment.ts'

const GAP_MS = 30 * 60_000

export interface PathsQueryRef {
  from: string
  to: string
  mode: 'start' | 'end'
  /** the anchor's node name: an event type or page:<path> */
  node: string
  steps: number
  limit: number
  filters: readonly Filter[]
}

/** Every stored event with its rank in the store's order at one instant. */
function stored(batches: readonly (readonly ReferenceEvent[])[]) {
  return dedupe(batches.flatMap((b) => storeOrder(b))).map((e, rank) => ({ ...e, rank }))
}

function nodeName(e: ReferenceEvent): string {
  const path = e.properties?.path
  const view = e.event_type === 'page_view' || e.event_type === '$pageview'
  if (view && (typeof path === 'string' || typeof path === 'number')) return `page:${path}`
  return e.event_type
}

export function referencePaths(batches: readonly (readonly ReferenceEvent[])[], q: PathsQueryRef) {
  const keep = matchesAll(q.filters)
  const byUser = new Map<string, Array<{ at: number; rank: number; name: string }>>()
  for (const e of stored(batches)) {
    const day = utcDay(e.occurred_at)
    if (day < q.from || day > q.to || !keep(e)) continue
    const list = byUser.get(e.user_id) ?? []
    list.push({ at: Date.parse(e.occurred_at), rank: e.rank, name: nodeName(e) })
    byUser.set(e.user_id, list)
  }
  // per (step, name): users; per (step, from, to): users and visits
  const nodeUsers = new Map<string, Set<string>>()
  const edges = new Map<
    string,
    { step: number; from: string; to: string; users: Set<string>; events: number }
  >()
  const visitPaths = (user: string, names: string[]) => {
    const at = q.mode === 'start' ? names.indexOf(q.node) : names.lastIndexOf(q.node)
    if (at < 0) return
    const first = q.mode === 'start' ? at : Math.max(0, at - q.steps + 1)
    const last = q.mode === 'start' ? Math.min(names.length - 1, at + q.steps - 1) : at
    const stepOf = (i: number) => (q.mode === 'start' ? i - at + 1 : q.steps - (at - i))
    for (let i = first; i <= last; i++) {
      const key = `${stepOf(i)}\u0000${names[i]}`
      const users = nodeUsers.get(key) ?? new Set()
      users.add(user)
      nodeUsers.set(key, users)
      if (i === last) continue
      const ekey = `${stepOf(i)}\u0000${names[i]}\u0000${names[i + 1]}`
      const edge = edges.get(ekey) ?? {
        step: stepOf(i),
        from: names[i]!,
        to: names[i + 1]!,
        users: new Set<string>(),
        events: 0,
      }
      edge.users.add(user)
      edge.events += 1
      edges.set(ekey, edge)
    }
  }
  for (const [user, list] of byUser) {
    list.sort((a, b) => a.at - b.at || a.rank - b.rank)
    let names: string[] = []
    let prevAt: number | undefined
    for (const e of list) {
      if (prevAt !== undefined && e.at - prevAt > GAP_MS) {
        visitPaths(user, names)
        names = []
      }
      if (names.at(-1) !== e.name) names.push(e.name)
      prevAt = e.at
    }
    visitPaths(user, names)
  }
  const transitions = [...edges.values()]
    .map((e) => ({ step: e.step, from: e.from, to: e.to, users: e.users.size, events: e.events }))
    .sort(
      (a, b) =>
        b.users - a.users ||
        b.events - a.events ||
        a.step - b.step ||
        compareCodePoints(a.from, b.from) ||
        compareCodePoints(a.to, b.to),
    )
    .slice(0, q.limit)
  const wanted = new Set([`${q.mode === 'start' ? 1 : q.steps}\u0000${q.node}`])
  for (const t of transitions) {
    wanted.add(`${t.step}\u0000${t.from}`)
    wanted.add(`${t.step + 1}\u0000${t.to}`)
  }
  const nodes = [...nodeUsers]
    .filter(([key]) => wanted.has(key))
    .map(([key, users]) => {
      const [step, name] = key.split('\u0000')
      return { step: Number(step), name: name!, users: users.size }
    })
    .sort((a, b) => a.step - b.step || b.users - a.users || compareCodePoints(a.name, b.name))
  return { nodes, transitions }
}
