import Type from 'typebox'
import {
  jsonResponse,
  problemResponses,
  rateLimited,
  SECURED,
  SECURED_STATUSES,
} from '../http/problem-schema.ts'
import { ProjectParam } from '../projects/project-param.ts'
import { UserParams } from '../users/schemas.ts'

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()])

export const DeletionBody = Type.Object(
  {
    deletion_id: Type.String({ format: 'uuid' }),
    user_id: Type.String({ description: 'the id asked for' }),
    ids: Type.Array(Type.String(), {
      description:
        "every id covered and suppressed: the person's own and every id merged into it, sorted",
    }),
    state: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done')], {
      description:
        'queued: waiting for writers that began before it; running: PostgreSQL is being scanned; done: no event of these ids is left in PostgreSQL',
    }),
    requested_by: Type.String({ description: 'the API key id, "env" (API_KEY), "open" or "cli"' }),
    requested_at: Type.String({ format: 'date-time' }),
    finished_at: Time,
    store_events: Type.Integer({ description: 'events removed from PostgreSQL so far' }),
    identity_messages: Type.Integer({
      description: 'identify, alias, group and set calls naming these ids removed (the profile)',
    }),
    archive_events: Type.Union([Type.Integer(), Type.Null()], {
      description:
        "events removed from the retention archive's files (ARCHIVE_DIR); null without an archive, or until done",
    }),
    replica_events: Type.Union([Type.Integer(), Type.Null()], {
      description: 'events the replica removed once it applied the deletion; null until then',
    }),
    replica_applied_at: Time,
  },
  { description: "a user's deletion" },
)

const example = {
  deletion_id: '0b6f3a52-1d1e-4f43-9a57-2f8c0d3e1a90',
  user_id: 'user-42',
  ids: ['anon-7f3a', 'user-42'],
  state: 'done',
  requested_by: '5d1c8d7e-2b8e-4d8f-9a0a-0e7d9b2c4f11',
  requested_at: '2026-12-04T01:00:00.000Z',
  finished_at: '2026-12-04T01:00:02.120Z',
  store_events: 57,
  identity_messages: 2,
  archive_events: null,
  replica_events: 57,
  replica_applied_at: '2026-12-04T01:00:02.180Z',
}

const Query = Type.Object({ project: ProjectParam }, { additionalProperties: false })

export const deleteUserSchema = {
  tags: ['users'],
  operationId: 'deleteUser',
  summary: "Delete a user's events everywhere, and refuse new ones",
  description:
    'Deletes every event of the person the id belongs to (the id, and every id merged into it) from PostgreSQL, in the background, then from the replica (its rollups corrected), and removes its profile. From this answer on, new events of those ids are refused at every intake (counted as `suppressed`) and never stored, until DELETE /suppressions/{user_id}. Admin only. Follow it with GET /deletions/{deletion_id}.',
  security: SECURED,
  params: UserParams,
  querystring: Query,
  response: {
    202: rateLimited(
      jsonResponse('The deletion, queued', DeletionBody, {
        example: {
          ...example,
          state: 'queued',
          finished_at: null,
          store_events: 0,
          identity_messages: 0,
          archive_events: null,
          replica_events: null,
          replica_applied_at: null,
        },
      }),
    ),
    ...problemResponses('/users/user-42', [...SECURED_STATUSES, 422, 500]),
  },
}

export const getDeletionSchema = {
  tags: ['users'],
  operationId: 'getDeletion',
  summary: "A deletion's state and counts",
  security: SECURED,
  params: Type.Object({ deletion_id: Type.String({ format: 'uuid' }) }),
  querystring: Query,
  response: {
    200: rateLimited(jsonResponse('The deletion', DeletionBody, { example })),
    ...problemResponses(
      '/deletions/0b6f3a52-1d1e-4f43-9a57-2f8c0d3e1a90',
      [...SECURED_STATUSES, 404, 422, 500],
      {
        404: { detail: 'no deletion 0b6f3a52-1d1e-4f43-9a57-2f8c0d3e1a90 in this project' },
      },
    ),
  },
}

export const liftSuppressionSchema = {
  tags: ['users'],
  operationId: 'liftSuppression',
  summary: 'Accept events of a deleted id again',
  description:
    "Lifts the suppression of one id (each id of a deletion is suppressed on its own). Refused (409) while that id's deletion is not done. Admin only.",
  security: SECURED,
  params: UserParams,
  querystring: Query,
  response: {
    200: rateLimited(
      jsonResponse('Lifted', Type.Object({ user_id: Type.String(), lifted: Type.Literal(true) }), {
        example: { user_id: 'user-42', lifted: true },
      }),
    ),
    ...problemResponses('/suppressions/user-42', [...SECURED_STATUSES, 404, 409, 422, 500], {
      404: { detail: 'the id "user-42" is not suppressed' },
      409: { detail: 'deletion 0b6f3a52-1d1e-4f43-9a57-2f8c0d3e1a90 of this id is still running' },
    }),
  },
}
