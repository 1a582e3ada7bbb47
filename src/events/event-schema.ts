import Type, { type Static } from 'typebox'

// One schema per shape: it validates the API body, the queue payload and (later)
// CSV rows, and it is the source of the OpenAPI description.
export const EventInput = Type.Object(
  {
    event_id: Type.String({
      format: 'uuid',
      description: 'UUID (any version); the idempotency key',
    }),
    occurred_at: Type.String({
      format: 'date-time',
      description: 'RFC 3339 date-time with a zone',
    }),
    user_id: Type.String({ minLength: 1, maxLength: 256 }),
    event_type: Type.String({ minLength: 1, maxLength: 128 }),
    properties: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
)
export type EventInput = Static<typeof EventInput>

export const IngestBody = Type.Union([
  Type.Array(EventInput),
  Type.Object({ events: Type.Array(EventInput) }, { additionalProperties: false }),
])

export const IngestResponse = Type.Object({
  total_received: Type.Integer(),
  inserted: Type.Integer({ description: 'stored now (201) or accepted for insertion (202)' }),
  duplicates: Type.Integer({ description: 'repeats inside the request plus ids already stored' }),
  suppressed: Type.Optional(
    Type.Integer({
      description:
        'events refused because their user was deleted (present only when some were): not stored, not queued',
    }),
  ),
  message: Type.String(),
})
export type IngestResponse = Static<typeof IngestResponse>

/** An event after validation: lower-case id, UTC timestamp, properties always an object. */
export interface NormalizedEvent {
  event_id: string
  occurred_at: string
  user_id: string
  event_type: string
  properties: Record<string, unknown>
}

/** An event as the store keeps it: in one project. */
export interface ProjectEvent extends NormalizedEvent {
  project_id: number
}
