import Type from 'typebox'
import { problemResponses, SECURED, SECURED_STATUSES } from '../http/problem-schema.ts'
import { ERROR_MESSAGE } from '../http/validation-errors.ts'
import { query, Range, Segments } from '../stats/schemas.ts'
import { EXPORT_FORMATS } from './formats.ts'

export const ExportQuery = query({
  ...Range,
  format: Type.Optional(
    Type.Union(
      EXPORT_FORMATS.map((f) => Type.Literal(f)),
      {
        default: 'ndjson',
        description:
          'ndjson: one event per line as POST /events takes it; csv: the columns `npm run import` reads; parquet: the same columns, zstd',
        [ERROR_MESSAGE]: `must be one of ${EXPORT_FORMATS.join(', ')}`,
      },
    ),
  ),
  ...Segments,
  user_id: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 256,
      description:
        "a user's own data (a GDPR access request): the events of this id and of every id merged with it",
      examples: ['user-42'],
      [ERROR_MESSAGE]: 'must be a user id of 1 to 256 characters',
    }),
  ),
})

const file = (description: string, example: string) => ({
  schema: Type.String({ description }),
  example,
})

export const exportRouteSchema = {
  tags: ['export'],
  operationId: 'exportEvents',
  summary: 'Export events',
  description:
    'Every stored event of the project whose occurred_at falls in the UTC days [from, to], streamed, in ' +
    'the columns the CSV import reads (event_id, occurred_at, user_id, event_type, properties_json): ' +
    'exported and imported into a fresh service, it answers the same stats. Read from PostgreSQL, the ' +
    'source of truth, as committed when the export began. No MAX_RANGE_DAYS limit. segment= filters ' +
    'as /stats takes them; user_id= for one person.',
  security: SECURED,
  querystring: ExportQuery,
  response: {
    200: {
      description: 'The file, as an attachment',
      content: {
        'application/x-ndjson': file(
          'one JSON event per line',
          '{"event_id":"0192f0c4-1b2a-7c3d-8e4f-5a6b7c8d9e0f","occurred_at":"2026-11-01T08:00:00.123456Z","user_id":"user-42","event_type":"page_view","properties":{"path":"/pricing"}}\n',
        ),
        'text/csv': file(
          'a header row, then one record per event',
          'event_id,occurred_at,user_id,event_type,properties_json\n0192f0c4-1b2a-7c3d-8e4f-5a6b7c8d9e0f,2026-11-01T08:00:00.123456Z,user-42,page_view,"{""path"": ""/pricing""}"\n',
        ),
        'application/vnd.apache.parquet': file(
          'Parquet, zstd: the five columns as text',
          '(binary)',
        ),
      },
    },
    ...problemResponses('/export?from=2026-11-03&to=2026-11-01', [...SECURED_STATUSES, 422, 500], {
      422: {
        detail: '1 invalid parameter(s)',
        errors: [{ field: 'from', message: 'must not be after to' }],
      },
    }),
  },
}
