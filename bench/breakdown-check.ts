// Times /stats/breakdown's query for each storage path beside the same question
// asked of a plain DuckDB table of the same events (issue 14). Standalone: it
// writes the replica's tables directly in SQL, no PostgreSQL, no sync.
//   node --import tsx bench/breakdown-check.ts [--events 1000000] [--file /tmp/breakdown-check.duckdb]
import { existsSync } from 'node:fs'
import { isDeepStrictEqual, parseArgs } from 'node:util'
import { DuckDbReplica } from '../src/analytics/duckdb-replica.ts'
import { blockOf, usersBitmap } from '../src/analytics/replica-schema.ts'
import { createLogger } from '../src/logger.ts'
import { breakdown } from '../src/stats/breakdown.ts'
import { dayNumber } from '../src/stats/params.ts'
import type { Segment, SegmentField } from '../src/stats/segment.ts'

const { values: args } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    file: { type: 'string', default: '/tmp/breakdown-check.duckdb' },
  },
})
const EVENTS = Number(args.events)
const USERS = 100_000
const FIRST = '2026-03-01'
const DAYS = 30

// path: ~100k values, session: one per event (both past MAX_ROLLUP_VALUES);
// ref (5 values, in 4 events of 5) and plan (4 values) have rollups; tag is
// only in the raw JSON: with MAX_PROPERTY_PATHS at 4 it never got a number.
const PATHS = [
  ['path', false],
  ['session', false],
  ['ref', true],
  ['plan', true],
] as const

const FILL = [
  `INSERT INTO users SELECT k, 'user-' || k, DATE '${FIRST}' FROM range(${USERS}) t(k)`,
  `CREATE TEMP TABLE g AS
   SELECT i AS seq, DATE '${FIRST}' + (i % ${DAYS})::INTEGER AS day,
          (hash(i * 7 + 1) % ${USERS})::INTEGER AS user_key,
          'type' || (hash(i * 3 + 2) % 40) AS event_type,
          '/p/' || (hash(i * 5 + 3) % 100000) AS path, 's' || i AS session,
          CASE WHEN hash(i * 11 + 4) % 5 > 0 THEN ['google', 'bing', 'direct', 'x', 'mail'][(1 + hash(i * 13 + 5) % 5)::INTEGER] END AS ref,
          ['free', 'pro', 'team', 'trial'][(1 + hash(i * 17 + 6) % 4)::INTEGER] AS plan,
          't' || (hash(i * 19 + 7) % 50000) AS tag
   FROM range(${EVENTS}) t(i)`,
  `INSERT INTO events SELECT seq, day, user_key, event_type, day + INTERVAL (seq % 86400) SECOND,
     json_object('path', path, 'session', session, 'ref', ref, 'plan', plan, 'tag', tag)::VARCHAR FROM g`,
  ...PATHS.map(
    ([name], id) =>
      `INSERT INTO event_props SELECT seq, ${id}, day, user_key, event_type, 'VARCHAR', ${name}, NULL FROM g WHERE ${name} IS NOT NULL`,
  ),
  ...PATHS.map(
    ([name, rolled], id) => `INSERT INTO property_paths VALUES ('$."${name}"', ${id}, ${rolled})`,
  ),
  `INSERT INTO type_day_counts SELECT day, event_type, count(*) FROM g GROUP BY ALL`,
  `INSERT INTO day_users_bitmaps SELECT day, ${blockOf('user_key')}, ${usersBitmap('user_key')} FROM g GROUP BY ALL`,
  `INSERT INTO day_type_users_bitmaps SELECT day, event_type, ${blockOf('user_key')}, ${usersBitmap('user_key')} FROM g GROUP BY ALL`,
  `INSERT INTO prop_day_counts SELECT day, path_id, type, text, event_type, count(*) FROM event_props
   WHERE path_id IN (2, 3) GROUP BY ALL`,
  `INSERT INTO prop_day_users_bitmaps SELECT day, path_id, type, text, ${blockOf('user_key')}, ${usersBitmap('user_key')}
   FROM event_props WHERE path_id IN (2, 3) GROUP BY ALL`,
  `CREATE TABLE plain AS SELECT u.user_id, e.event_type, e.occurred_at, e.properties::JSON AS properties
   FROM events e JOIN users u USING (user_key)`,
  'CHECKPOINT',
]

const fresh = !existsSync(args.file)
const replica = await DuckDbReplica.open(
  args.file,
  { memoryLimit: '256MB', threads: 2, maxPropertyPaths: PATHS.length, maxRollupValues: 32 },
  createLogger('silent'),
)
if (fresh) {
  const t = performance.now()
  for (const sql of FILL) await replica.writer.run(sql)
  await replica.paths.load(replica.writer)
  console.log(`filled ${EVENTS} events in ${((performance.now() - t) / 1000).toFixed(1)} s`)
}

// The plain question: top 10 values by count, then "other" (its users counted
// once) and the events without the value.
const plainSql = (value: string, filter: string) => `
WITH kept AS (SELECT user_id, ${value} AS v FROM plain
  WHERE occurred_at >= DATE '${FIRST}' AND occurred_at < DATE '${FIRST}' + ${DAYS} AND (${filter})),
g AS (SELECT v, count(*) AS c, count(DISTINCT user_id) AS u FROM kept WHERE v IS NOT NULL GROUP BY v),
top AS (SELECT * FROM g ORDER BY c DESC, u DESC, v LIMIT 10)
SELECT v, c, u FROM top
UNION ALL SELECT 'other', (SELECT coalesce(sum(c), 0) FROM g ANTI JOIN top USING (v)),
  (SELECT count(DISTINCT user_id) FROM kept ANTI JOIN top USING (v))
UNION ALL SELECT 'not set', (SELECT count(*) FROM kept WHERE v IS NULL), NULL`

const range = { from: dayNumber(FIRST), to: dayNumber(FIRST) + DAYS - 1 }
const ref: Segment = {
  text: 'properties.ref:google',
  field: { kind: 'property', path: ['ref'] },
  op: 'eq',
  values: ['google'],
}
const prop = (name: string): SegmentField => ({ kind: 'property', path: [name] })
const CASES: Array<[string, SegmentField, string]> = [
  ['properties.path', prop('path'), `properties->>'path'`],
  ['properties.plan', prop('plan'), `properties->>'plan'`],
  ['event_type', { kind: 'event_type' }, 'event_type'],
  ['user_id', { kind: 'user_id' }, 'user_id'],
  ['properties.tag (raw JSON)', prop('tag'), `properties->>'tag'`],
]

interface PlainRow {
  v: string
  c: bigint | null
  u: bigint | null
}
const asPlain = (b: Awaited<ReturnType<typeof breakdown>>) => [
  ...b.values.map((v) => [v.value, BigInt(v.count), BigInt(v.unique_users)]),
  ['other', BigInt(b.other.count), BigInt(b.other.unique_users)],
  ['not set', BigInt(b.not_set.count), null],
]

// The better of two runs, or the first alone when it is slow (the machine is shared).
async function time(run: () => Promise<unknown>): Promise<number> {
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < 2; i++) {
    const t = performance.now()
    await run()
    best = Math.min(best, performance.now() - t)
    if (best > 3000) break
  }
  return best
}

console.log('| by | filter | breakdown ms | plain ms |\n| --- | --- | ---: | ---: |')
for (const [text, field, value] of CASES) {
  for (const filtered of [false, true]) {
    const ask = () => breakdown(replica, range, { text, field }, 10, filtered ? [ref] : [])
    const askPlain = () =>
      replica.query<PlainRow>(
        plainSql(value, filtered ? `(properties->>'ref') = 'google'` : 'TRUE'),
      )
    const ms = await time(ask)
    const plain = await time(askPlain)
    const [mine, theirs] = [asPlain(await ask()), (await askPlain()).map(Object.values)]
    const same = isDeepStrictEqual(mine, theirs)
    if (!same) console.log(mine, theirs)
    console.log(
      `| ${text} | ${filtered ? 'ref:google' : '-'} | ${ms.toFixed(0)} | ${plain.toFixed(0)} |${same ? '' : ' DIFFERENT ANSWER'}`,
    )
  }
}
replica.close()
