import Type from 'typebox'
import { PostHogResponse } from '../compat/schemas.ts'
import {
  jsonResponse,
  problemResponses,
  rateLimited,
  SECURED,
  SECURED_STATUSES,
} from '../http/problem-schema.ts'
import { COLLECT_LIMITS } from './collect.ts'

// What the browser routes document. /collect's body is judged message by
// message (collect.ts), so its schema describes it; it validates nothing.

const Message = Type.Object({}, { additionalProperties: true })
const CollectBody = Type.Object(
  {
    key: Type.String({ description: 'a public (or write) key: beacons cannot set headers' }),
    sent_at: Type.Optional(
      Type.Number({ description: "the browser's clock when it sent (epoch ms)" }),
    ),
    anonymous_id: Type.Optional(
      Type.String({ description: 'the persistent visitor id, where the project keeps one' }),
    ),
    gpc: Type.Optional(Type.Boolean({ description: 'navigator.globalPrivacyControl' })),
    messages: Type.Array(Message, { minItems: 1, maxItems: COLLECT_LIMITS.messages }),
  },
  { additionalProperties: true },
)

const collectExample = {
  key: 'ea_…',
  sent_at: 1_793_620_800_250,
  messages: [
    {
      type: 'event',
      event_id: '6a1d2f7e-0b9f-4c4e-9c2b-8e3d7a6f1c05',
      timestamp: 1_793_620_800_000,
      event_type: 'page_view',
      properties: {
        path: '/pricing',
        title: 'Pricing',
        referrer: 'https://search.example/?q=analytics',
        host: 'shop.example',
        screen_width: 1440,
        language: 'en-GB',
        utm_source: 'newsletter',
        utm_medium: 'email',
        utm_campaign: 'november',
        utm_term: '',
        utm_content: '',
      },
    },
    {
      type: 'identify',
      event_id: '0b9f5c4e-6a1d-4f7e-9c2b-8e3d7a6f1c05',
      timestamp: 1_793_620_800_100,
      user_id: 'user-42',
      traits: { plan: 'pro' },
    },
  ],
}

export const CollectResponse = Type.Object(
  {
    ...PostHogResponse.properties,
    status: Type.Literal(1),
    anonymous_id: Type.Optional(
      Type.String({
        description:
          'the project keeps persistent visitor ids: the id to keep (localStorage) and send as anonymous_id',
      }),
    ),
    forget_anonymous_id: Type.Optional(
      Type.Literal(true, {
        description: 'the project uses the daily hashed id: forget the one kept',
      }),
    ),
    gpc: Type.Optional(
      Type.Literal(true, {
        description:
          'the page sent Global Privacy Control and the project honours it: nothing was stored',
      }),
    ),
  },
  { additionalProperties: false },
)

export const collectRouteSchema = {
  tags: ['events'],
  operationId: 'collect',
  summary: 'Browser events (the /script.js script)',
  description:
    'What the browser script sends: page views, custom events and identify calls, as JSON with any Content-Type ' +
    `(text/plain for beacons, which also take no preflight), at most ${COLLECT_LIMITS.messages} messages and ` +
    `${COLLECT_LIMITS.bytes / 1024} KiB. The key is in the body (beacons cannot set headers): a public key, made for pages. ` +
    "The visitor (user_id) is the server's: by default a hash of the day's salt, the project, the client address and the " +
    "User-Agent (no cookie, nothing stored in the browser, the address never stored); with the project's persistent ids, " +
    'the anonymous_id the answer hands out. The server adds browser, os, device (and country, with GEOIP_DB) to every event, ' +
    'and referrer_host to page views. Known bots are dropped (each an ingestion warning, reason "bot"). A page whose ' +
    'Origin the project does not allow is refused (403 ORIGIN_NOT_ALLOWED).',
  security: SECURED,
  body: {
    ...CollectBody,
    examples: [collectExample, { ...collectExample, messages: [collectExample.messages[0]] }],
  },
  response: {
    200: rateLimited(
      jsonResponse('Accepted', CollectResponse, {
        example: {
          status: 1,
          received: 2,
          events: 1,
          duplicates: 0,
          identities: 1,
          rejected: 0,
          received_at: '2026-11-01T12:00:00.250Z',
        },
      }),
    ),
    ...problemResponses('/collect', [400, ...SECURED_STATUSES, 413, 422, 500, 503], {
      403: {
        detail:
          'pages of https://other.example may not send events to project "shop"; its allowed origins are https://shop.example (npm run projects -- origins)',
      },
    }),
  },
}

export const scriptRouteSchema = {
  tags: ['events'],
  operationId: 'browserScript',
  summary: 'The browser script',
  description:
    '`<script defer src="https://HOST/script.js" data-key="PUBLIC_KEY"></script>`: records page views (on load and on ' +
    'history.pushState, replaceState and popstate; hash changes with data-hash="true") and exposes ' +
    'window.eventAnalytics.track(name, props) and .identify(id, traits). No cookie. Revalidated with its ETag: ' +
    'a request with If-None-Match naming it is answered 304 with no body.',
  response: {
    200: {
      description: 'The script',
      content: {
        'text/javascript': { schema: Type.String(), example: '"use strict";(()=>{…})();' },
      },
    },
  },
}
