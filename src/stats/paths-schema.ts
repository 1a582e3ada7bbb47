import Type, { type Static } from 'typebox'
import { jsonResponse } from '../http/problem-schema.ts'
import { ERROR_MESSAGE } from '../http/validation-errors.ts'
import { query, Range, Segments, statsRoute } from './schemas.ts'

// The querystring and answer of /stats/paths (semantics: README, "Paths";
// the anchor's grammar is checked in paths-params.ts).

export const MIN_PATH_STEPS = 2
export const MAX_PATH_STEPS = 10
export const DEFAULT_PATH_STEPS = 5
export const DEFAULT_PATH_LIMIT = 50
export const MAX_PATH_LIMIT = 1000

const Anchor = (description: string, example: string) =>
  Type.Optional(
    Type.String({
      description,
      examples: [example],
      [ERROR_MESSAGE]: 'may be given once: event:<event_type> or page:<path>',
    }),
  )

export const PathsQuery = query({
  ...Range,
  start: Anchor(
    'where paths start (give start or end, not both): event:<event_type>, or page:<path> for a page view (page_view or $pageview) with that properties.path',
    'page:/pricing',
  ),
  end: Anchor('where paths end, the same grammar as start', 'event:purchase'),
  steps: Type.Optional(
    Type.Integer({
      minimum: MIN_PATH_STEPS,
      maximum: MAX_PATH_STEPS,
      default: DEFAULT_PATH_STEPS,
      description: 'the most nodes a path has, the start (or end) included',
      examples: [DEFAULT_PATH_STEPS],
    }),
  ),
  limit: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: MAX_PATH_LIMIT,
      default: DEFAULT_PATH_LIMIT,
      description: 'the most transitions returned',
      examples: [DEFAULT_PATH_LIMIT],
    }),
  ),
  ...Segments,
})
export type PathsQuery = Static<typeof PathsQuery>

const PathNode = Type.Object({
  step: Type.Integer({
    description: 'its column: 1 is the start; with end=, `steps` is the end',
  }),
  name: Type.String({ description: 'an event_type, or page:<path> for a page view' }),
  users: Type.Integer({ description: 'distinct users with this node at this step' }),
})
const PathTransition = Type.Object({
  step: Type.Integer({ description: 'the step of `from`; `to` is at step + 1' }),
  from: Type.String(),
  to: Type.String(),
  users: Type.Integer({ description: 'distinct users with this transition in some visit' }),
  events: Type.Integer({ description: 'visits with this transition' }),
})
export const Paths = Type.Object({
  nodes: Type.Array(PathNode),
  transitions: Type.Array(PathTransition),
})
export type Paths = Static<typeof Paths>
export type PathNode = Static<typeof PathNode>
export type PathTransition = Static<typeof PathTransition>

export const pathsRouteSchema = statsRoute({
  example: '/stats/paths?from=2026-11-01&to=2026-11-30&start=page:/&end=event:purchase',
  operationId: 'getPaths',
  summary: 'The most common paths after a start or before an end, for a Sankey view',
  description:
    'Within each visit (a user’s kept events of the range with no gap over 30 minutes, as in the web figures): from the first ' +
    'occurrence of `start` in the visit, the nodes that follow (or, with `end`, the nodes before its last occurrence), up to ' +
    '`steps` nodes counting the start (end). A node is the event_type, or page:<path> for a page view with a path; consecutive ' +
    'repeats are one node. transitions: the top `limit` by users, then events, then step, from and to (code point order); ' +
    'users are distinct users after identity merging, events the visits with that transition. nodes: the start (end) node and ' +
    'every node a returned transition touches, by step, then users descending, then name.',
  querystring: PathsQuery,
  ok: jsonResponse('The nodes and the top transitions', Paths, {
    example: {
      nodes: [
        { step: 1, name: 'page:/', users: 900 },
        { step: 2, name: 'page:/pricing', users: 410 },
        { step: 2, name: 'signup', users: 120 },
      ],
      transitions: [
        { step: 1, from: 'page:/', to: 'page:/pricing', users: 410, events: 530 },
        { step: 1, from: 'page:/', to: 'signup', users: 120, events: 121 },
      ],
    },
  }),
  badParameter: { field: 'end', message: 'give start or end, not both' },
})
