import type { IdentityRow } from '../store/change-feed.ts'

/**
 * The identity rules, applied to calls in the order PostgreSQL committed them
 * (so a rebuild decides every link the same way). Pure: the replica's state
 * for the ids a batch names goes in, what to write comes out
 * (identity-sync.ts writes it).
 *
 * - A link joins a source id to a target id: Segment's identify
 *   (anonymousId → userId) and alias (previousId → userId), PostHog's
 *   $identify ($anon_distinct_id → distinct_id) and $create_alias (alias →
 *   distinct_id). The source's person joins the target's, and the target's
 *   id names it from then on.
 * - An identify or alias identifies its target. Two persons that are both
 *   identified are never merged (a conflict, kept as a warning); an identify
 *   whose anonymous id already belongs to an identified person is one too
 *   (PostHog's rule: a shared device must not merge two users who logged in
 *   on it).
 * - Ids that clients send by mistake ('anonymous', 'null', '0', …) are never
 *   linked: they would merge everybody who sent them.
 */

/** What the replica knows of one id before the batch. */
export interface KnownId {
  person: string
  identified: boolean
}

export interface IdentityState {
  /** the ids the batch names that the replica has linked before */
  ids: ReadonlyMap<string, KnownId>
  /** for each person those ids belong to: whether any of its ids is identified */
  personIdentified: ReadonlyMap<string, boolean>
}

export interface TraitWrite {
  person: string
  trait: string
  once: boolean
  /** the value as JSON text */
  value: string
  micros: bigint
  seq: bigint
}

export interface GroupWrite {
  person: string
  group_type: string
  group_id: string
  micros: bigint
  seq: bigint
}

export interface IdentityWarning {
  message_id: string
  source: IdentityRow['source']
  reason: 'identity_conflict' | 'id_not_mergeable'
  field: string
  message: string
  call: Pick<IdentityRow, 'kind' | 'user_id' | 'anonymous_id' | 'previous_id'>
}

export interface IdentityChanges {
  /** every id whose row is new or changed, with its person after the batch */
  ids: Map<string, KnownId>
  /** persons merged into another, to their person after the batch (never itself moved) */
  moves: Map<string, string>
  traits: TraitWrite[]
  groups: GroupWrite[]
  warnings: IdentityWarning[]
}

// PostHog's list of ids never merged, and a few more seen in the wild; compared lower-cased and trimmed.
const NOT_MERGEABLE = new Set([
  '',
  'anonymous',
  'guest',
  'distinctid',
  'distinct_id',
  'id',
  'not_authenticated',
  'email',
  'undefined',
  'true',
  'false',
  'null',
  'nil',
  'none',
  'nan',
  '0',
  '-1',
  '[object object]',
])

export const isMergeable = (id: string) => !NOT_MERGEABLE.has(id.trim().toLowerCase())

/** The ids a batch names, whose state must be loaded before it is applied. */
export function idsNamed(rows: readonly IdentityRow[]): Set<string> {
  const ids = new Set<string>()
  for (const r of rows) {
    ids.add(r.user_id)
    if (r.anonymous_id !== null) ids.add(r.anonymous_id)
    if (r.previous_id !== null) ids.add(r.previous_id)
  }
  return ids
}

export function applyIdentities(
  rows: readonly IdentityRow[],
  state: IdentityState,
): IdentityChanges {
  const ids = new Map<string, KnownId>()
  for (const [id, known] of state.ids) ids.set(id, { ...known })
  const identified = new Map(state.personIdentified)
  // The ids of each person that this batch knows by name; the rest move by person in SQL.
  const members = new Map<string, Set<string>>()
  for (const [id, { person }] of ids) add(members, person, id)
  const touched = new Set<string>()
  const moved = new Map<string, string>()
  const warnings: IdentityWarning[] = []
  const traitsAt: Array<Omit<TraitWrite, 'person'> & { id: string }> = []
  const groupsAt: Array<Omit<GroupWrite, 'person'> & { id: string }> = []

  const personOf = (id: string) => ids.get(id)?.person ?? id
  const isIdentified = (person: string) => identified.get(person) ?? false
  const entry = (id: string): KnownId => {
    let known = ids.get(id)
    if (!known) {
      known = { person: id, identified: false }
      ids.set(id, known)
      add(members, id, id)
    }
    touched.add(id)
    return known
  }
  const identify = (id: string) => {
    entry(id).identified = true
    identified.set(personOf(id), true)
  }
  const merge = (from: string, into: string) => {
    for (const id of members.get(from) ?? []) {
      ids.get(id)!.person = into
      touched.add(id)
      add(members, into, id)
    }
    members.delete(from)
    moved.set(from, into)
    for (const [old, to] of moved) if (to === from) moved.set(old, into)
    identified.set(into, isIdentified(into) || isIdentified(from))
    identified.delete(from)
  }
  const link = (row: IdentityRow, source: string, field: string) => {
    const target = row.user_id
    const warn = (reason: IdentityWarning['reason'], message: string) =>
      warnings.push({
        message_id: row.message_id,
        source: row.source,
        reason,
        field,
        message,
        call: {
          kind: row.kind,
          user_id: row.user_id,
          anonymous_id: row.anonymous_id,
          previous_id: row.previous_id,
        },
      })
    if (source === target) return
    const unmergeable = [source, target].find((id) => !isMergeable(id))
    if (unmergeable !== undefined) {
      warn('id_not_mergeable', `${JSON.stringify(unmergeable)} is never linked to another id`)
      return
    }
    entry(source)
    entry(target)
    const from = personOf(source)
    const into = personOf(target)
    if (from === into) return
    if (row.kind === 'identify' ? isIdentified(from) : isIdentified(from) && isIdentified(into)) {
      warn(
        'identity_conflict',
        `${JSON.stringify(source)} belongs to the identified user ${JSON.stringify(from)}; not merged into ${JSON.stringify(into)}`,
      )
      return
    }
    merge(from, into)
  }

  for (const row of rows) {
    const seq = BigInt(row.seq)
    const micros = BigInt(row.micros)
    if (row.kind === 'identify' && row.anonymous_id !== null)
      link(row, row.anonymous_id, 'anonymous_id')
    if (row.kind === 'alias' && row.previous_id !== null) link(row, row.previous_id, 'previous_id')
    if ((row.kind === 'identify' || row.kind === 'alias') && isMergeable(row.user_id))
      identify(row.user_id)
    if (row.kind === 'group') {
      // Segment's group puts the user in a group. PostHog's $groupidentify
      // only describes a group (its distinct_id is no user's): no membership.
      if (row.group_id !== null && row.source === 'segment')
        groupsAt.push({
          id: row.user_id,
          group_type: row.group_type ?? 'group',
          group_id: row.group_id,
          micros,
          seq,
        })
      continue // a group call's traits are the group's, not the user's
    }
    for (const [traits, once] of [
      [row.traits, false],
      [row.traits_once, true],
    ] as const) {
      if (traits === null) continue
      for (const [trait, value] of Object.entries(JSON.parse(traits) as Record<string, unknown>))
        traitsAt.push({ id: row.user_id, trait, once, value: JSON.stringify(value), micros, seq })
    }
  }

  const changed = new Map<string, KnownId>()
  for (const id of touched) changed.set(id, ids.get(id)!)
  // Traits and groups go to the person each id belongs to after the batch: a
  // merge later in the batch carries them along, as it does for earlier ones.
  return {
    ids: changed,
    moves: moved,
    traits: traitsAt.map(({ id, ...t }) => ({ person: personOf(id), ...t })),
    groups: groupsAt.map(({ id, ...g }) => ({ person: personOf(id), ...g })),
    warnings,
  }
}

function add(members: Map<string, Set<string>>, person: string, id: string): void {
  const set = members.get(person)
  if (set) set.add(id)
  else members.set(person, new Set([id]))
}
