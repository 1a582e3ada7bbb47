// The identity rules of the README, written as plainly as possible for the
// tests to compare the replica with: every id's person in a full map, the
// calls applied one by one in the order they were sent.
// - identify(anonymous → user) and alias(previous → user) link a source id to
//   a target id; both identify the target (when it may be linked at all).
// - Never linked: the ids clients send by mistake (NEVER below).
// - identify: not merged when the source's person is already identified;
//   alias: not merged when both persons are identified.
// - A merge moves every id of the source's person to the target's person,
//   which keeps its name.

const NEVER = ['', 'anonymous', 'guest', 'distinctid', 'distinct_id', 'id', 'not_authenticated']
  .concat(['email', 'undefined', 'true', 'false', 'null', 'nil', 'none', 'nan', '0', '-1'])
  .concat(['[object object]'])

export interface ReferenceLink {
  kind: 'identify' | 'alias'
  source: string
  target: string
}

/** Each id that was linked or identified, to the person it belongs to after the calls. */
export function referencePersons(links: readonly ReferenceLink[]): Map<string, string> {
  const person = new Map<string, string>()
  const identifiedIds = new Set<string>()
  const of = (id: string) => person.get(id) ?? id
  const identified = (p: string) =>
    [...identifiedIds].some((id) => of(id) === p) || identifiedIds.has(p)
  const linkable = (id: string) => !NEVER.includes(id.trim().toLowerCase())
  for (const { kind, source, target } of links) {
    if (source !== target && linkable(source) && linkable(target)) {
      const from = of(source)
      const into = of(target)
      const conflict = kind === 'identify' ? identified(from) : identified(from) && identified(into)
      if (from !== into && !conflict) {
        for (const [id, p] of person) if (p === from) person.set(id, into)
        person.set(from, into)
        person.set(source, into)
        if (!person.has(target)) person.set(target, into)
      }
    }
    if (linkable(target)) identifiedIds.add(target)
  }
  return person
}
