import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { waitFor } from './events.ts'
import { type Expected, sendFew, sendPostHogSet, sendSegmentSet } from './sdk-cases.ts'
import { CLOCK_SLACK_MS, checkFigures, clientTime } from './sdk-checks.ts'
import type { SdkClient, SdkRun } from './sdk-clients.ts'
import { AnswerCuttingProxy, RecordingFront } from './sdk-faults.ts'
import {
  daysAroundToday,
  SDK_MODES,
  type SdkMode,
  type SdkProject,
  SdkService,
} from './sdk-service.ts'

// One real client against the running service, in each mode: the known set
// and every figure it gives, then the same set through forced retries (answers
// cut after the service took the batch, a run of 503s), then an unknown key.

const RETRIES = 2
const SKEWED_CLIENT = fileURLToPath(new URL('./sdk-skewed-client.ts', import.meta.url))
const SKEW_MS = 3 * 3_600_000

function openAndSend(client: SdkClient, host: string, key: string) {
  if (client.family === 'segment') {
    const run = client.open(host, key)
    return { run: run as SdkRun<unknown>, expected: sendSegmentSet(run.calls) }
  }
  const run = client.open(host, key)
  return { run: run as SdkRun<unknown>, expected: sendPostHogSet(run.calls) }
}

export function sdkSuite(client: SdkClient): void {
  for (const mode of SDK_MODES) suiteIn(client, mode)
}

function suiteIn(client: SdkClient, mode: SdkMode): void {
  describe(`${client.name} against the service, ${mode.name}`, { skip: mode.skip }, () => {
    let s: SdkService
    let clean: { p: SdkProject; expected: Expected } | undefined
    const closers: Array<{ close(): Promise<void> }> = []
    const front = async () => {
      const f = await RecordingFront.start(s.url)
      closers.push(f)
      return f
    }

    before(async () => {
      s = await SdkService.start(mode)
    })
    after(async () => {
      for (const c of closers) await c.close()
      await s?.close()
    })

    test('the known set: events per type, users, each message mapped, warnings for the invalid ones', {}, async () => {
      const p = await s.project('clean')
      const f = await front()
      const { run, expected } = openAndSend(client, f.url, p.writeKey)
      await run.finish()
      assert.deepEqual(run.failures, [])
      assert.deepEqual(
        f.requests.map((r) => r.status),
        Array(client.batches).fill(200),
        'each batch answered 200 once',
      )
      for (const r of f.requests) client.wire(r, p.writeKey)
      assert.equal(f.messagesSent().length, expected.messages)
      await checkFigures(s, client, p, f, expected)
      clean = { p, expected }
    })

    test('answers cut after the service took the batch: the client retries, each event counted once', {}, async () => {
      const p = await s.project('cut')
      const f = await front()
      const proxy = await AnswerCuttingProxy.start(f.url)
      closers.push(proxy)
      proxy.cutNext(RETRIES)
      const { run, expected } = openAndSend(client, proxy.url, p.writeKey)
      await run.finish()
      assert.deepEqual(run.failures, [])
      assert.equal(proxy.cut, RETRIES)
      assert.equal(f.requests.length, client.batches + RETRIES, 'every cut answer was retried')
      assert.ok(
        f.requests.every((r) => r.status === 200),
        'the service answered every attempt',
      )
      assert.equal(f.messagesSent().length, expected.messages + sentAgain(f, RETRIES))
      await checkFigures(s, client, p, f, expected)
    })

    test('a run of 503s with Retry-After: the client waits them out, each event counted once', {}, async () => {
      const p = await s.project('unavailable')
      const f = await front()
      f.failNext(RETRIES)
      const { run, expected } = openAndSend(client, f.url, p.writeKey)
      await run.finish()
      assert.deepEqual(run.failures, [])
      assert.equal(f.refused, RETRIES)
      assert.deepEqual(
        f.requests.map((r) => r.status),
        [...Array(RETRIES).fill(503), ...Array(client.batches).fill(200)],
      )
      await checkFigures(s, client, p, f, expected)
    })

    test(`an unknown key: 401 to each of its ${client.requestsOn401} requests, nothing stored`, async () => {
      // A project with a key closes the service, whichever tests ran before this one.
      await s.project('keyed')
      const storedBefore = await s.storedCount()
      const f = await front()
      const run = client.open(f.url, 'ea_not-a-real-key')
      sendFew(run.calls, client.family)
      await run.finish()
      assert.deepEqual(
        f.requests.map((r) => r.status),
        Array(client.requestsOn401).fill(401),
      )
      assert.ok(run.failures.length > 0, 'the client reports the batch as not delivered')
      assert.equal(await s.storedCount(), storedBefore)
    })

    test('a client whose clock is 3 hours fast: stored at the time the service received it', async () => {
      const p = await s.project('skewed')
      const f = await front()
      const out = await runSkewedClient(client.id, f.url, p.writeKey, SKEW_MS)
      assert.deepEqual(out, { failures: [] })
      const [sent] = f.messagesSent()
      assert.equal(f.messagesSent().length, 1)
      const skewed = clientTime(sent!) - Date.now()
      assert.ok(skewed > SKEW_MS - CLOCK_SLACK_MS, `the client's clock was ahead (${skewed} ms)`)
      const rows = await waitFor(
        'the skewed event to be stored',
        () => s.storedRows(p),
        (r) => r.length > 0,
      )
      assert.equal(rows.length, 1)
      const drift = rows[0]!.occurred_at.getTime() - Date.now()
      assert.ok(
        drift > -CLOCK_SLACK_MS && drift <= 0,
        `occurred_at ${rows[0]!.occurred_at.toISOString()} is the service's time, not the client's`,
      )
    })

    test('users with identities merged: DAU counts linked ids as one person; profiles', async () => {
      assert.ok(clean, 'the known set ran')
      const { p, expected } = clean
      const persons = new Map<string, Set<string>>()
      for (const row of await s.storedRows(p)) {
        const day = row.occurred_at.toISOString().slice(0, 10)
        const set = persons.get(day) ?? new Set<string>()
        set.add(expected.merges[row.user_id] ?? row.user_id)
        persons.set(day, set)
      }
      const want = daysAroundToday().map((day) => persons.get(day)?.size ?? 0)
      // The identity calls are applied in the sync pass after the events they came with, at the latest.
      await waitFor(
        'daily users with the merges applied',
        () => s.dailyUsers(p),
        (got) => JSON.stringify(got) === JSON.stringify(want),
      )
      for (const [id, profile] of Object.entries(expected.profiles)) {
        const got = (await s.read(p, `/users/${id}`)) as Record<string, unknown>
        assert.deepEqual(
          { user_id: got.user_id, ids: got.ids, traits: got.traits, groups: got.groups },
          { user_id: id, groups: {}, ...profile },
          `the profile of ${id}`,
        )
      }
    })
  })
}

/** Runs sdk-skewed-client.ts; its parsed output once it exits 0. */
async function runSkewedClient(id: string, host: string, key: string, skew: number) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', SKEWED_CLIENT, id, host, key, String(skew)],
    { env: { PATH: process.env.PATH }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  let err = ''
  child.stdout.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  assert.equal(code, 0, `the skewed client failed:\n${err}`)
  return JSON.parse(out) as { failures: string[] }
}

/** Messages sent more than once: those of the batches whose answer was cut (the first `n` requests). */
function sentAgain(f: RecordingFront, n: number): number {
  return f.requests.slice(0, n).reduce((sum, r) => sum + r.messages.length, 0)
}
