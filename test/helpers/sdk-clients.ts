import assert from 'node:assert/strict'
import RudderAnalytics from '@rudderstack/rudder-sdk-node'
import { PostHog as PostHogV4 } from 'posthog-node-v4'
import { PostHog as PostHogV5 } from 'posthog-node-v5'
import { Analytics as SegmentV2 } from 'segment-node-v2'
import { Analytics as SegmentV3 } from 'segment-node-v3'
import type { FrontRequest } from './sdk-faults.ts'

// The real npm clients, each set up the way its README says with two changes:
// the host is the service (or a test front before it), and batching is made
// deterministic (one batch per flush, no timer firing in the middle of a test).
// Their wire behaviour, measured against a capture server, is described in
// the SDK test report: retries of 5xx and reset connections, 401 policies.

export type Message = Record<string, unknown>

/** Segment's and RudderStack's calls: the same message shapes. */
export interface SegmentCalls {
  track(m: Message): void
  page(m: Message): void
  screen(m: Message): void
  identify(m: Message): void
  group(m: Message): void
  alias(m: Message): void
}

/** posthog-node's calls. */
export interface PostHogCalls {
  capture(m: Message): void
  identify(m: Message): void
  alias(m: Message): void
}

export interface SdkRun<C> {
  calls: C
  /** flushes everything and closes the client; resolves once every batch was answered for good */
  finish(): Promise<void>
  /** what the client reported as not delivered */
  failures: string[]
}

interface ClientBase {
  /** its name in SDK_CLIENTS, for a child process to open the same client */
  id: string
  /** the package and version, as pinned */
  name: string
  /**
   * Requests the client makes for a small set (a single batch, or for
   * RudderStack the first message alone and then the rest) when each is
   * answered 401: the first attempts plus this client's retries of a 401.
   */
  requestsOn401: number
  /** requests the known set takes when every one is answered 2xx */
  batches: number
  /** asserts how the client put a batch on the wire (path, key, encoding) */
  wire(request: FrontRequest, key: string): void
}

export interface SegmentClient extends ClientBase {
  family: 'segment'
  /** the context.library.name the client writes */
  library: string
  open(host: string, key: string): SdkRun<SegmentCalls>
}

export interface PostHogClient extends ClientBase {
  family: 'posthog'
  open(host: string, key: string): SdkRun<PostHogCalls>
}

export type SdkClient = SegmentClient | PostHogClient

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

const basic = (key: string) => `Basic ${Buffer.from(`${key}:`).toString('base64')}`
const isGzip = (r: FrontRequest) => r.headers['content-encoding'] === 'gzip'

/** Segment's 2.x and 3.x: JSON, not compressed, the key in the body (and 3.x as Basic auth too). */
function segmentWire(withBasic: boolean) {
  return (r: FrontRequest, key: string) => {
    assert.equal(`${r.method} ${r.path}`, 'POST /v1/batch')
    assert.equal(r.headers['content-type'], 'application/json')
    assert.equal(isGzip(r), false)
    assert.equal(r.headers.authorization, withBasic ? basic(key) : undefined)
    assert.equal(r.envelope.writeKey, key)
    assert.equal(typeof r.envelope.sentAt, 'string')
    for (const m of r.messages) assert.match(String(m.messageId), /^node-next-\d+-[0-9a-f-]{36}$/)
  }
}

// The deadline of a flush only bounds a hang; the retries it waits out take seconds.
const FLUSH_TIMEOUT_MS = 50_000

function segmentRun(client: SegmentV2 | SegmentV3): SdkRun<SegmentCalls> {
  const failures: string[] = []
  // Both majors emit 'error' with { code, reason } for a batch given up on.
  ;(client as SegmentV3).on('error', (err) => failures.push(`${err.code}: ${String(err.reason)}`))
  const calls = client as unknown as SegmentCalls
  return {
    calls,
    failures,
    finish: () => client.closeAndFlush({ timeout: FLUSH_TIMEOUT_MS }),
  }
}

export const segmentV2: SegmentClient = {
  id: 'segmentV2',
  name: '@segment/analytics-node 2.3.0',
  family: 'segment',
  library: '@segment/analytics-node',
  // 2.x retries every status but 400 (401 included): maxRetries 3, so 4 requests.
  requestsOn401: 4,
  batches: 1,
  wire: segmentWire(false),
  open: (host, writeKey) =>
    segmentRun(new SegmentV2({ writeKey, host, flushAt: 100, flushInterval: 60_000 })),
}

export const segmentV3: SegmentClient = {
  id: 'segmentV3',
  name: '@segment/analytics-node 3.1.0',
  family: 'segment',
  library: '@segment/analytics-node',
  requestsOn401: 1,
  batches: 1,
  wire: segmentWire(true),
  open: (host, writeKey) =>
    segmentRun(new SegmentV3({ writeKey, host, flushAt: 100, flushInterval: 60_000 })),
}

export const rudderstack: SegmentClient = {
  id: 'rudderstack',
  name: '@rudderstack/rudder-sdk-node 3.0.13',
  family: 'segment',
  library: 'analytics-node',
  // The first message goes alone, at once; the rest in the flush: two requests, neither retried.
  requestsOn401: 2,
  batches: 2,
  // gzip labelled as a form; Basic auth only; a UUID messageId and the client time as originalTimestamp.
  wire(r, key) {
    assert.equal(`${r.method} ${r.path}`, 'POST /v1/batch')
    assert.equal(r.headers['content-type'], 'application/x-www-form-urlencoded')
    assert.equal(isGzip(r), true)
    assert.equal(r.headers.authorization, basic(key))
    assert.equal(r.envelope.writeKey, undefined)
    assert.equal(typeof r.envelope.sentAt, 'string')
    for (const m of r.messages) {
      assert.match(String(m.messageId), UUID)
      assert.equal(typeof m.originalTimestamp, 'string')
    }
  },
  open(host, writeKey) {
    const failures: string[] = []
    const client = new RudderAnalytics(writeKey, {
      dataPlaneUrl: host,
      flushAt: 100,
      flushInterval: 60_000,
      logLevel: 'none',
      // Without a handler a failed background flush is an unhandled rejection.
      errorHandler: (err: { message?: string }) => {
        failures.push(String(err?.message ?? err))
      },
    })
    const queue = (client as unknown as { queue: unknown[] }).queue
    return {
      calls: client as unknown as SegmentCalls,
      failures,
      async finish() {
        // A flush sends at most flushAt messages, after the flush in flight.
        do await client.flush()
        while (queue.length > 0)
      },
    }
  },
}

function postHogRun(client: PostHogV4 | PostHogV5): SdkRun<PostHogCalls> {
  const failures: string[] = []
  client.on('error', (err: unknown) => failures.push(String(err)))
  return {
    calls: client as unknown as PostHogCalls,
    failures,
    // capture() enqueues a tick later than identify()/alias(): shutdown() waits for both.
    finish: () => client.shutdown(FLUSH_TIMEOUT_MS),
  }
}

// fetchRetryDelay: posthog-node waits 3 s between attempts by default; the
// tests keep the same policy (3 retries) with a short wait.
/** posthog-node: POST /batch/ with the token as api_key in the body, UUIDv7 ids; 5.x gzips. */
function postHogWire(gzip: boolean) {
  return (r: FrontRequest, key: string) => {
    assert.equal(`${r.method} ${r.path}`, 'POST /batch/')
    assert.equal(r.headers['content-type'], 'application/json')
    assert.equal(isGzip(r), gzip)
    assert.equal(r.headers.authorization, undefined)
    assert.equal(r.envelope.api_key, key)
    assert.equal(typeof r.envelope.sent_at, 'string')
    for (const m of r.messages) assert.match(String(m.uuid), /^[0-9a-f]{8}-[0-9a-f]{4}-7/)
  }
}

const postHogOptions = (host: string) => ({
  host,
  flushAt: 100,
  flushInterval: 0,
  fetchRetryDelay: 200,
})

export const postHogV4: PostHogClient = {
  id: 'postHogV4',
  name: 'posthog-node 4.18.0',
  family: 'posthog',
  // 4.x retries every HTTP error, 401 included: 3 retries, so 4 requests.
  requestsOn401: 4,
  batches: 1,
  wire: postHogWire(false),
  open: (host, key) => postHogRun(new PostHogV4(key, postHogOptions(host))),
}

export const postHogV5: PostHogClient = {
  id: 'postHogV5',
  name: 'posthog-node 5.70.0',
  family: 'posthog',
  requestsOn401: 1,
  batches: 1,
  wire: postHogWire(true),
  open: (host, key) => postHogRun(new PostHogV5(key, postHogOptions(host))),
}

export const SDK_CLIENTS: Record<string, SdkClient> = {
  segmentV2,
  segmentV3,
  rudderstack,
  postHogV4,
  postHogV5,
}
