import Type, { type Static } from 'typebox'
import {
  jsonResponse,
  problemResponses,
  rateLimited,
  SECURED,
  SECURED_STATUSES,
} from '../http/problem-schema.ts'
import { ProjectParam } from '../projects/project-param.ts'

export const DEFAULT_RECENT = 20

export const UserParams = Type.Object({
  user_id: Type.String({
    minLength: 1,
    maxLength: 256,
    description: 'any id of the user: one sent as user_id, anonymousId, distinct_id or merged',
  }),
})

export const UserQuery = Type.Object(
  {
    project: ProjectParam,
    events: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: 100,
        default: DEFAULT_RECENT,
        description: 'how many of the most recent events to include',
      }),
    ),
  },
  { additionalProperties: false },
)
export type UserQuery = Static<typeof UserQuery>

const Time = Type.Union([Type.String({ format: 'date-time' }), Type.Null()])

export const UserProfile = Type.Object(
  {
    user_id: Type.String({ description: 'the id the merged ids are counted as' }),
    ids: Type.Array(Type.String(), { description: 'every id counted as this user, sorted' }),
    identified: Type.Boolean({
      description: 'an identify or alias named one of its ids as the user',
    }),
    traits: Type.Record(Type.String(), Type.Unknown(), {
      description:
        'current traits: the last identify / $set by event time, else the first $set_once',
    }),
    groups: Type.Record(Type.String(), Type.String(), {
      description: 'group type → group id, from the last group call of each type',
    }),
    first_seen: Time,
    last_seen: Time,
    event_count: Type.Integer(),
    recent_events: Type.Array(
      Type.Object({
        event_type: Type.String(),
        occurred_at: Type.String({ format: 'date-time' }),
        properties: Type.Record(Type.String(), Type.Unknown()),
      }),
    ),
  },
  { description: 'a user profile' },
)

export const userRouteSchema = {
  tags: ['users'],
  operationId: 'getUser',
  summary: 'A user profile',
  description:
    'The profile of the user an id belongs to, after identities are merged: its ids, current traits, groups, first and last seen, event count and most recent events. As fresh as /stats.',
  security: SECURED,
  params: UserParams,
  querystring: UserQuery,
  response: {
    200: rateLimited(
      jsonResponse('The profile', UserProfile, {
        example: {
          user_id: 'user-42',
          ids: ['anon-7f3a', 'user-42'],
          identified: true,
          traits: { plan: 'pro', email: 'ada@example.com' },
          groups: { company: 'acme' },
          first_seen: '2026-11-01T09:12:03.000000Z',
          last_seen: '2026-11-03T17:40:11.250000Z',
          event_count: 57,
          recent_events: [
            {
              event_type: 'purchase',
              occurred_at: '2026-11-03T17:40:11.250000Z',
              properties: { amount: 20 },
            },
          ],
        },
      }),
    ),
    ...problemResponses('/users/nobody', [...SECURED_STATUSES, 404, 422, 500], {
      404: { detail: 'no user has the id "nobody"' },
    }),
  },
}
