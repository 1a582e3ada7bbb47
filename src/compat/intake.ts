import type { FieldError } from '../errors.ts'
import type { NormalizedEvent } from '../events/event-schema.ts'
import type { IngestService } from '../events/ingest-service.ts'
import { type BatchLimits, checkEvent, textProblem } from '../events/validate-batch.ts'
import type { Project } from '../projects/project-store.ts'
import type { Occurred } from './clock.ts'
import type { IdentityMessage, IdentityStore, Source } from './identity-store.ts'
import type { Warning, WarningsStore } from './warnings-store.ts'

/** What the metrics are told about SDK intake. */
export interface CompatObserver {
  compatMessages(source: Source, received: number): void
  compatMessageRejected(source: Source, reason: string): void
  compatRequestRefused(source: Source, reason: string): void
  identitiesSuppressed(count: number): void
}

/** The event a message maps to, before the shared rules judge it. */
export interface EventDraft {
  user_id: unknown
  event_type: unknown
  properties: unknown
}

export type IdentityDraft = Omit<IdentityMessage, 'message_id' | 'source' | 'occurred_at'>

/** What a protocol (segment.ts, posthog.ts) makes of one message. */
export type Draft =
  | {
      id: string
      rejected: { reason: string; errors: FieldError[] }
      /** false for a message that cannot even be serialised safely (nested too deep): its warning holds no copy */
      keep?: false
    }
  | { id: string; occurred: Occurred; event?: EventDraft; identity?: IdentityDraft }

/** How a protocol names the fields of the normalised event, so a warning names what the client sent. */
export type FieldNames = Record<
  'event_id' | 'occurred_at' | 'user_id' | 'event_type' | 'properties',
  string
>

export interface IntakeCounts {
  /** messages in the request */
  received: number
  /** messages stored (or queued) as events, duplicates included */
  events: number
  /** of those, ids already stored or repeated within the request */
  duplicates: number
  /** identify, alias, group and set calls recorded (PostHog's $identify is an event too) */
  identities: number
  /** messages refused, each kept as an ingestion warning */
  rejected: number
  /** messages refused because their user was deleted (events, and identity calls naming one of its ids); present only when some were */
  suppressed?: number
}

export interface IntakeDeps {
  ingest: IngestService
  identities: IdentityStore
  warnings: WarningsStore
  limits: Omit<BatchLimits, 'maxBatchSize'>
  observer: CompatObserver
}

// An id beside user_id (anonymous, previous, group) is held to user_id's rules.
const MAX_ID_LENGTH = 256

/**
 * The one path every SDK message takes after its protocol has mapped it: each
 * event is held to POST /events' rules (checkEvent) and handed to the same
 * ingest service; identity calls are recorded; a message that fails is kept
 * as a warning with its reason and counted, and the rest of the request goes
 * on. Nothing is answered before all three are durable, and each is
 * idempotent, so a client that retries after a 5xx adds nothing twice.
 */
export async function takeMessages(
  deps: IntakeDeps,
  source: Source,
  fields: FieldNames,
  messages: readonly unknown[],
  drafts: readonly Draft[],
  project: Pick<Project, 'id' | 'name' | 'events_per_day'>,
  requestId: string,
  now: number,
): Promise<IntakeCounts> {
  const events: NormalizedEvent[] = []
  const propertiesJson: string[] = []
  const identities: IdentityMessage[] = []
  const warnings: Warning[] = []
  const reject = (index: number, id: string, reason: string, errors: FieldError[], keep = true) => {
    warnings.push({
      message_id: id,
      source,
      request_id: requestId,
      index,
      reason,
      errors: errors.map(({ field, message }) => ({ field, message })),
      message: keep ? messages[index] : null,
    })
  }
  for (const [index, draft] of drafts.entries()) {
    if ('rejected' in draft) {
      reject(index, draft.id, draft.rejected.reason, draft.rejected.errors, draft.keep)
      continue
    }
    if ('error' in draft.occurred) {
      reject(index, draft.id, 'invalid_occurred_at', [
        { field: fields.occurred_at, message: draft.occurred.error },
      ])
      continue
    }
    const errors: FieldError[] = []
    const occurred_at = draft.occurred.at
    let event: NormalizedEvent | undefined
    const json: string[] = []
    if (draft.event) {
      event = checkEvent(
        { event_id: draft.id, occurred_at, ...draft.event },
        index,
        deps.limits,
        now,
        errors,
        json,
      )
    }
    let identity: Omit<IdentityMessage, 'source'> | undefined
    if (draft.identity && errors.length === 0)
      identity = checkIdentity(draft, index, deps, now, errors)
    if (errors.length > 0) {
      const named = errors.map((e) => ({
        field: fields[e.field as keyof FieldNames] ?? e.field,
        message: e.message,
      }))
      reject(index, draft.id, `invalid_${errors[0]!.field}`, named)
      continue
    }
    if (event) {
      events.push(event)
      propertiesJson.push(json[0]!)
    }
    if (identity) identities.push({ ...identity, source })
  }

  deps.observer.compatMessages(source, messages.length)
  // Warnings first: a message refused is on record even if storing the rest fails (and is retried).
  await deps.warnings.add(project.id, warnings)
  for (const w of warnings) deps.observer.compatMessageRejected(source, w.reason)
  let duplicates = 0
  let suppressed = 0
  if (events.length > 0) {
    const result = await deps.ingest.ingest(events, project, requestId, propertiesJson)
    duplicates = result.body.duplicates
    suppressed = result.body.suppressed ?? 0
  }
  const refused = await deps.identities.add(project.id, identities)
  // A message that is an event and an identity call ($identify) is counted once, as the event.
  const eventIds = new Set(events.map((e) => e.event_id))
  const identityOnly = refused.filter((id) => !eventIds.has(id)).length
  if (identityOnly > 0) deps.observer.identitiesSuppressed(identityOnly)
  suppressed += identityOnly
  return {
    received: messages.length,
    events: events.length - (suppressed - identityOnly),
    duplicates,
    identities: identities.length - refused.length,
    rejected: warnings.length,
    ...(suppressed > 0 ? { suppressed } : {}),
  }
}

/** An identity call held to the rules of an event (its traits as properties) and its other ids to user_id's. */
function checkIdentity(
  draft: Extract<Draft, { occurred: Occurred }>,
  index: number,
  deps: IntakeDeps,
  now: number,
  out: FieldError[],
): Omit<IdentityMessage, 'source'> | undefined {
  const identity = draft.identity!
  const occurred_at = (draft.occurred as { at: string }).at
  const errors: FieldError[] = []
  const as = checkEvent(
    {
      event_id: draft.id,
      occurred_at,
      user_id: identity.user_id,
      event_type: identity.kind,
      properties: { traits: identity.traits, traits_once: identity.traits_once },
    },
    index,
    deps.limits,
    now,
    errors,
  )
  for (const field of ['anonymous_id', 'previous_id', 'group_id', 'group_type'] as const) {
    const value = identity[field]
    if (value === undefined) continue
    const problem =
      value.length === 0 || value.length > MAX_ID_LENGTH
        ? `must be 1 to ${MAX_ID_LENGTH} characters`
        : textProblem(value)
    if (problem) errors.push({ index, field, message: problem })
  }
  // The traits were checked as the properties of an event.
  for (const e of errors) out.push(e.field === 'properties' ? { ...e, field: 'traits' } : e)
  if (!as || errors.length > 0) return undefined
  return { ...identity, message_id: draft.id, occurred_at: as.occurred_at }
}
