import assert from 'node:assert/strict'
import { waitFor } from './events.ts'
import type { Expected } from './sdk-cases.ts'
import type { Message, SdkClient } from './sdk-clients.ts'
import type { RecordingFront } from './sdk-faults.ts'
import type { SdkProject, SdkService, StoredRow } from './sdk-service.ts'

// The assertions every SDK scenario shares: the figures the stats routes give,
// each stored row against the message it came from, the warnings.

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const UUID_V5 = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
// How far a stored time may be from the client's: the sentAt correction adds
// the time the batch took to arrive, retries included (some clients keep the
// first attempt's sentAt).
export const CLOCK_SLACK_MS = 60_000
export const idOf = (m: Message) => String(m.messageId ?? m.uuid)
export const propsOf = (m: Message) => (m.properties ?? {}) as Record<string, unknown>
/** The client-clock time of a message: RudderStack's explicit timestamp wins over its originalTimestamp. */
export const clientTime = (m: Message) => Date.parse(String(m.timestamp ?? m.originalTimestamp))

/** Every stored row is one sent message, mapped as the issue says. */
function checkRows(
  client: SdkClient,
  rows: StoredRow[],
  sent: Message[],
  expected: Expected,
): void {
  assert.equal(rows.length, expected.stored, 'rows stored')
  const bySeq = new Map<number, Message>()
  for (const m of sent) {
    const seq = propsOf(m).seq
    if (typeof seq === 'number' && !bySeq.has(seq)) bySeq.set(seq, m)
  }
  const seen = new Set<number>()
  for (const row of rows) {
    const seq = row.properties.seq
    let message: Message | undefined
    if (typeof seq === 'number') {
      const want = expected.rows[seq]
      assert.ok(want, `no row with seq ${seq} was expected`)
      assert.ok(!seen.has(seq), `seq ${seq} is stored once`)
      seen.add(seq)
      assert.deepEqual(
        { user_id: row.user_id, event_type: row.event_type },
        {
          user_id: want.user_id,
          event_type: want.event_type,
        },
      )
      message = bySeq.get(seq)
      if (want.at !== undefined)
        assert.equal(clientTime(message!), want.at, `seq ${seq} was sent with its own timestamp`)
    } else {
      assert.equal(
        expected.unnumbered[row.event_type],
        row.user_id,
        `an unexpected row: ${row.event_type}`,
      )
      message = sent.find((m) => m.event === row.event_type)
    }
    assert.ok(message, `the message behind ${row.event_type} (seq ${seq}) was sent`)
    const id = idOf(message)
    if (UUID.test(id))
      assert.equal(row.event_id, id.toLowerCase(), 'a UUID message id is the event id')
    else assert.match(row.event_id, UUID_V5, `a UUIDv5 of (project, ${id})`)
    const drift = row.occurred_at.getTime() - clientTime(message)
    assert.ok(
      drift > -CLOCK_SLACK_MS && drift < CLOCK_SLACK_MS,
      `occurred_at ${row.occurred_at.toISOString()} is the client's time ${String(message.timestamp ?? message.originalTimestamp)}`,
    )
    if (client.family === 'segment') {
      const context = row.properties.context as { library?: { name?: string } } | undefined
      assert.equal(
        context?.library?.name,
        client.library,
        'the context is kept under properties.context',
      )
      if (message.type === 'page' || message.type === 'screen') {
        assert.equal(row.properties.name, message.name, 'a page or screen keeps its name')
        if (message.category !== undefined) assert.equal(row.properties.category, message.category)
      }
    } else {
      assert.equal(row.properties.$lib, 'posthog-node', 'properties as sent')
    }
  }
  assert.equal(seen.size, Object.keys(expected.rows).length, 'every numbered message is stored')
}

/** Waits for and asserts every figure of a project that was sent the known set. */
export async function checkFigures(
  s: SdkService,
  client: SdkClient,
  p: SdkProject,
  front: RecordingFront,
  expected: Expected,
): Promise<void> {
  await s.untilTopEvents(p, expected.topEvents)
  // By person: the identity calls merge ids (applied by the sync pass after the events, at the latest).
  const perPerson: Record<string, number> = {}
  for (const [id, n] of Object.entries(expected.perUser)) {
    const person = expected.merges[id] ?? id
    perPerson[person] = (perPerson[person] ?? 0) + n
  }
  const sorted = (counts: Record<string, number>) =>
    JSON.stringify(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)))
  await waitFor(
    `events per user of ${p.name}, merges applied: ${sorted(perPerson)}`,
    () => s.eventsPerUser(p),
    (got) => sorted(got) === sorted(perPerson),
  )
  checkRows(client, await s.storedRows(p), front.messagesSent(), expected)

  const invalidIds = [
    ...new Set(
      front
        .messagesSent()
        .filter((m) => propsOf(m).case === 'invalid')
        .map(idOf),
    ),
  ]
  assert.equal(invalidIds.length, expected.invalid)
  const warnings = await waitFor(
    `${expected.invalid} warnings for ${p.name}`,
    () => s.warnings(p),
    (w) => w.length >= expected.invalid,
  )
  // One warning per rejected message, however often a retry brought it again.
  assert.equal(warnings.length, expected.invalid, JSON.stringify(warnings))
  const text = JSON.stringify(warnings)
  for (const id of invalidIds) assert.ok(text.includes(id), `a warning names message ${id}`)
}
