import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { type DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api'
import pg from 'pg'
import { to as copyTo } from 'pg-copy-streams'
import type { Config } from '../../src/config.ts'
import { CSV_HEADER } from './csv-file.ts'

// The plain baseline of issue 14: the same events in one DuckDB table,
// events(event_id, occurred_at, user_id, event_type, properties JSON), no
// rollups, no property tables, asked the same questions with the SQL anyone
// would write (`properties->>'path'`). The service's replica must beat it or
// explain why not. Loaded from a CSV file (DuckDB's postgres scanner is not
// built in, and nothing may be installed), with the replica's memory limit
// and threads, after the service has stopped.

export type PlainRow = Record<string, unknown>

/** What the data set looks like, counted on the loaded events (freshness markers included). */
export interface DatasetShape {
  events: number
  users: number
  eventTypes: number
  /** distinct values of each property path */
  distinct: Record<string, number>
  propertiesPerEvent: { min: number; avg: number; max: number }
  /** share of events whose visit came from a campaign (utm_source set) */
  campaignShare: number
  /** share of events on the most viewed path */
  topPathShare: number
  /** visits found by sessionising each user's events at 30-minute gaps, and how many (visit, session) pairs they make */
  visitsByGap: number
  visitSessionPairs: number
}

export class PlainDuckDb {
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly conn: DuckDBConnection,
  ) {}

  /** A fresh database file at `path` holding the events of `csvFile` (written by writeEventsCsv or exportEventsCsv). */
  static async load(
    path: string,
    csvFile: string,
    analytics: Pick<Config['analytics'], 'memoryLimit' | 'threads'>,
  ): Promise<PlainDuckDb> {
    const instance = await DuckDBInstance.create(path, {
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      memory_limit: analytics.memoryLimit,
      threads: String(analytics.threads),
    })
    const conn = await instance.connect()
    await conn.run(
      `
      CREATE TABLE events AS
      SELECT event_id, occurred_at, user_id, event_type, properties_json AS properties
      FROM read_csv($1, header = true, quote = '"', escape = '"',
        columns = {'event_id': 'UUID', 'occurred_at': 'TIMESTAMP', 'user_id': 'VARCHAR', 'event_type': 'VARCHAR', 'properties_json': 'JSON'})`,
      [csvFile],
    )
    return new PlainDuckDb(instance, conn)
  }

  async query(sql: string, values: unknown[] = []): Promise<PlainRow[]> {
    const reader = await this.conn.runAndReadAll(sql, values as DuckDBValue[])
    return reader.getRowObjects() as PlainRow[]
  }

  async shape(paths: readonly string[]): Promise<DatasetShape> {
    const n = (v: unknown) => Number(v)
    const distinct = paths.map((p, i) => `count(DISTINCT properties->>'${p}') AS p${i}`).join(', ')
    const [r] = await this.query(`
      SELECT count(*) AS events, count(DISTINCT user_id) AS users, count(DISTINCT event_type) AS types, ${distinct},
             min(len(json_keys(properties))) AS kmin, avg(len(json_keys(properties))) AS kavg, max(len(json_keys(properties))) AS kmax,
             count(*) FILTER (WHERE properties->>'utm_source' IS NOT NULL) / count(*) AS campaign
      FROM events WHERE event_type <> 'bench_freshness'`)
    const [top] = await this.query(`
      SELECT coalesce(max(n), 0) / (SELECT count(*) FROM events) AS share
      FROM (SELECT count(*) AS n FROM events WHERE properties->>'path' IS NOT NULL GROUP BY properties->>'path')`)
    // A visit starts at a user's first event and after every gap over 30 minutes.
    const [v] = await this.query(`
      WITH gaps AS (
        SELECT user_id, occurred_at, properties->>'session' AS session,
               occurred_at - lag(occurred_at) OVER (PARTITION BY user_id ORDER BY occurred_at) AS gap
        FROM events WHERE properties->>'session' IS NOT NULL),
      visits AS (
        SELECT user_id, session,
               sum(CASE WHEN gap IS NULL OR gap > INTERVAL 30 MINUTE THEN 1 ELSE 0 END)
                 OVER (PARTITION BY user_id ORDER BY occurred_at ROWS UNBOUNDED PRECEDING) AS visit
        FROM gaps)
      SELECT count(DISTINCT (user_id, visit)) AS visits, count(DISTINCT (user_id, visit, session)) AS pairs FROM visits`)
    return {
      events: n(r!.events),
      users: n(r!.users),
      eventTypes: n(r!.types),
      distinct: Object.fromEntries(paths.map((p, i) => [p.replace(/^\$\./, ''), n(r![`p${i}`])])),
      propertiesPerEvent: {
        min: n(r!.kmin),
        avg: Math.round(n(r!.kavg) * 10) / 10,
        max: n(r!.kmax),
      },
      campaignShare: Math.round(n(r!.campaign) * 1000) / 1000,
      topPathShare: Math.round(n(top!.share) * 1000) / 1000,
      visitsByGap: n(v!.visits),
      visitSessionPairs: n(v!.pairs),
    }
  }

  close(): void {
    this.conn.closeSync()
    this.instance.closeSync()
  }
}

/**
 * The store's events as the same CSV as writeEventsCsv, streamed: for data
 * seeded in SQL, which never passes through Node. `project`: that project's
 * events only.
 */
export async function exportEventsCsv(
  databaseUrl: string,
  file: string,
  project?: number,
): Promise<void> {
  // COPY takes no bound values: the project is checked to be an integer and written in.
  if (project !== undefined && !Number.isSafeInteger(project))
    throw new Error(`not a project id: ${project}`)
  const where = project === undefined ? '' : ` WHERE project_id = ${project}`
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const sql = `COPY (SELECT event_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), user_id, event_type, properties::text
                 FROM events${where}) TO STDOUT (FORMAT csv)`
    const out = createWriteStream(file)
    out.write(`${CSV_HEADER}\n`)
    await pipeline(client.query(copyTo(sql)), out)
  } finally {
    await client.end()
  }
}
