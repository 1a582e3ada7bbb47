import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { dirname } from 'node:path'
import { type DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import { DEFAULT_PROJECT_ID } from '../projects/project-store.ts'
import { checkpointThreshold } from './fold.ts'
import { PropertyPaths } from './property-paths.ts'
import { REPLICA_DDL, REPLICA_VERSION } from './replica-schema.ts'

export interface SyncCursor {
  /** the event store this replica was filled from */
  sourceId: string | null
  xact: bigint
  seq: bigint
  syncedRows: bigint
  syncedAt: Date | null
}

interface CursorRow {
  source_id: string | null
  cursor_xact: bigint
  cursor_seq: bigint
  synced_rows: bigint
  synced_at_ms: bigint | null
}

export class ReplicaLockedError extends Error {}

export type ReplicaOptions = Pick<
  Config['analytics'],
  'memoryLimit' | 'threads' | 'maxPropertyPaths' | 'maxRollupValues'
>

// Queries run on their own connections so a long one does not wait behind the sync's writes; two let two run at once.
const READER_CONNECTIONS = 2

/** DuckDB's words for a block that fails its checksum or cannot be read back. */
export function isCorruption(err: unknown): boolean {
  return (
    err instanceof Error &&
    /Corrupt database file|checksum|IO Error: Could not read/i.test(err.message)
  )
}

function moveAside(path: string, cause: Error, log: Logger): void {
  const aside = `${path}.corrupt-${Date.now()}`
  log.error(
    { err: cause, movedTo: aside },
    'the analytics replica file is corrupt; moving it aside and rebuilding it from the store',
  )
  renameSync(path, aside)
  if (existsSync(`${path}.wal`)) renameSync(`${path}.wal`, `${aside}.wal`)
}

async function createInstance(path: string, options: ReplicaOptions): Promise<DuckDBInstance> {
  try {
    return await DuckDBInstance.create(path, {
      // No network here or in most deployments: never try to download extensions.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      memory_limit: options.memoryLimit,
      // Committed rollups stay in memory until a checkpoint writes them out.
      checkpoint_threshold: checkpointThreshold(options.memoryLimit),
      threads: String(options.threads),
    })
  } catch (err) {
    const message = (err as Error).message
    if (/lock/i.test(message)) {
      throw new ReplicaLockedError(
        `the analytics replica ${path} is open in another process; give each process that serves /stats its own DUCKDB_PATH (${message})`,
      )
    }
    throw err
  }
}

/**
 * DuckDB schema of a project's replica. None is `main`: DuckDB looks a name
 * up in `main` too when the connection's schema lacks it, so `main` holds no
 * table, and a name missing from a project's schema is an error, never
 * another project's rows.
 */
export function projectSchema(project: number): string {
  return `p${project}`
}

/**
 * The replica file: one DuckDB instance per file per process (DuckDB's own
 * file lock makes a second process fail to open it, which becomes a message
 * that says what to do), holding each project's replica in a schema of its
 * own. Projects share the instance's memory and threads, and never a table:
 * no query of one can read another's rows, and each is as fast as if it were
 * alone. Writes to any of them go one at a time (serialise), so memory is
 * bounded as for one.
 */
export class ReplicaDatabase {
  private readonly replicas = new Map<number, DuckDbReplica>()
  private writes: Promise<unknown> = Promise.resolve()
  /** A checksum or read error met on the replica file, until the file is replaced. */
  corruption: Error | undefined
  /** how many times the file was replaced: connections (and their temp tables) made before are gone */
  generation = 0

  private constructor(
    readonly path: string,
    readonly options: ReplicaOptions,
    private instance: DuckDBInstance,
    private readonly log: Logger,
  ) {}

  /** DuckDB's memory limit, which the sync sizes its work by */
  get memoryLimit(): string {
    return this.options.memoryLimit
  }

  static async open(path: string, options: ReplicaOptions, log: Logger): Promise<ReplicaDatabase> {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
    let instance: DuckDBInstance
    try {
      instance = await createInstance(path, options)
    } catch (err) {
      // Derived data: a damaged file is rebuilt from the store rather than
      // refused for ever. A file that is not DuckDB at all is still refused.
      if (!isCorruption(err)) throw err
      moveAside(path, err as Error, log)
      instance = await createInstance(path, options)
    }
    const database = new ReplicaDatabase(path, options, instance, log)
    await database.dropUnprojectedReplica()
    return database
  }

  /** A statement on a connection of its own. */
  private async run(sql: string): Promise<void> {
    const conn = await this.instance.connect()
    try {
      await conn.run(sql)
    } finally {
      conn.closeSync()
    }
  }

  /**
   * The replica from before projects sat in `main`: it is dropped, and each
   * project's is built in its schema (derived data: rebuilt, not moved).
   */
  private async dropUnprojectedReplica(): Promise<void> {
    const conn = await this.instance.connect()
    try {
      const reader = await conn.runAndReadAll(
        `SELECT view_name AS name, 'VIEW' AS kind FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' AND database_name = current_database()
         UNION ALL
         SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE schema_name = 'main' AND database_name = current_database() AND NOT temporary`,
      )
      const objects = reader.getRowObjects() as Array<{ name: string; kind: string }>
      if (objects.length === 0) return
      this.log.warn('the replica predates projects; rebuilding it per project from PostgreSQL')
      for (const { name, kind } of objects) await conn.run(`DROP ${kind} IF EXISTS main."${name}"`)
    } finally {
      conn.closeSync()
    }
  }

  /** The project's replica, its schema made if need be. */
  async project(project: number): Promise<DuckDbReplica> {
    let replica = this.replicas.get(project)
    if (!replica) {
      replica = new DuckDbReplica(this, project, this.options, this.log)
      await replica.connect(this.instance)
      this.replicas.set(project, replica)
    }
    return replica
  }

  /** The projects whose replicas the file holds. */
  async projectsOnFile(): Promise<number[]> {
    const conn = await this.instance.connect()
    try {
      const reader = await conn.runAndReadAll(
        `SELECT schema_name FROM duckdb_tables() WHERE table_name = 'replica_meta' AND NOT temporary AND database_name = current_database()`,
      )
      return (reader.getRowObjects() as Array<{ schema_name: string }>).flatMap(
        ({ schema_name }) => {
          const m = /^p(\d+)$/.exec(schema_name)
          return m ? [Number(m[1])] : []
        },
      )
    } finally {
      conn.closeSync()
    }
  }

  /** Removes a deleted project's replica: its schema and everything in it. */
  async dropProject(project: number): Promise<void> {
    const replica = this.replicas.get(project)
    this.replicas.delete(project)
    await this.serialise(async () => {
      replica?.disconnect()
      await this.run(`DROP SCHEMA IF EXISTS ${projectSchema(project)} CASCADE`)
    })
  }

  /** Work that writes to any project's replica: one at a time. */
  serialise<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work, work)
    this.writes = run.catch(() => {})
    return run
  }

  /** Resolves when the writes queued so far are done. */
  async idle(): Promise<void> {
    await this.writes
  }

  /** Moves a corrupted file aside and starts an empty one in its place; the syncs then refill it. */
  async replaceCorruptFile(): Promise<void> {
    const cause = this.corruption ?? new Error('corrupt')
    for (const replica of this.replicas.values()) replica.disconnect()
    this.instance.closeSync()
    moveAside(this.path, cause, this.log)
    this.instance = await createInstance(this.path, this.options)
    this.generation++
    for (const replica of this.replicas.values()) await replica.connect(this.instance)
    this.corruption = undefined
  }

  close(): void {
    for (const replica of this.replicas.values()) replica.disconnect()
    this.replicas.clear()
    this.instance.closeSync()
  }
}

/**
 * One project's replica: its schema, a writer connection for its sync and
 * reader connections for its queries, each with the schema as its default,
 * so every query names its tables plainly and finds only this project's.
 */
export class DuckDbReplica {
  private readers: DuckDBConnection[] = []
  private next = 0
  private writerConn: DuckDBConnection | undefined
  /** the numbered property paths; the sync adds to them */
  readonly paths: PropertyPaths
  readonly schema: string
  /** set by open(): closing this replica closes the file too */
  private ownsDatabase = false

  constructor(
    readonly database: ReplicaDatabase,
    readonly project: number,
    options: ReplicaOptions,
    private readonly log: Logger,
  ) {
    this.schema = projectSchema(project)
    this.paths = new PropertyPaths(options.maxPropertyPaths, options.maxRollupValues)
  }

  /** A file holding only the default project's replica, for tools and tests. */
  static async open(path: string, options: ReplicaOptions, log: Logger): Promise<DuckDbReplica> {
    const database = await ReplicaDatabase.open(path, options, log)
    const replica = await database.project(DEFAULT_PROJECT_ID)
    replica.ownsDatabase = true
    return replica
  }

  get path(): string {
    return this.database.path
  }

  get memoryLimit(): string {
    return this.database.memoryLimit
  }

  get corruption(): Error | undefined {
    return this.database.corruption
  }

  set corruption(err: Error | undefined) {
    this.database.corruption = err
  }

  /** the connection the sync writes through */
  get writer(): DuckDBConnection {
    if (!this.writerConn) throw new Error(`the replica of project ${this.project} is closed`)
    return this.writerConn
  }

  /** @internal (ReplicaDatabase) */
  async connect(instance: DuckDBInstance): Promise<void> {
    const use = async () => {
      const conn = await instance.connect()
      await conn.run(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`)
      await conn.run(`USE ${this.schema}`)
      return conn
    }
    this.writerConn = await use()
    this.readers = []
    for (let i = 0; i < READER_CONNECTIONS; i++) this.readers.push(await use())
    await this.ensureSchema()
  }

  /** @internal (ReplicaDatabase) */
  disconnect(): void {
    for (const c of this.readers) c.closeSync()
    this.readers = []
    this.writerConn?.closeSync()
    this.writerConn = undefined
  }

  /** Moves a corrupted file aside and starts an empty one in its place; the syncs then refill it. */
  replaceCorruptFile(): Promise<void> {
    return this.database.replaceCorruptFile()
  }

  private async ensureSchema(): Promise<void> {
    for (const ddl of REPLICA_DDL) await this.writer.run(ddl)
    const rows = await this.rows<{ version: number }>(
      this.writer,
      'SELECT version FROM replica_meta WHERE id = 1',
    )
    if (rows.length === 0) {
      await this.writer.run(
        'INSERT INTO replica_meta (id, version, source_id, cursor_xact, cursor_seq, synced_rows) VALUES (1, $1, NULL, 0, 0, 0)',
        [REPLICA_VERSION],
      )
    } else if (rows[0]!.version !== REPLICA_VERSION) {
      this.log.warn(
        { found: rows[0]!.version, expected: REPLICA_VERSION, project: this.project },
        'replica layout changed; rebuilding it from PostgreSQL',
      )
      await this.reset()
    }
    await this.paths.load(this.writer)
  }

  /** Empties the replica; the sync then refills it from the beginning, from `sourceId`. */
  async reset(sourceId: string | null = null): Promise<void> {
    // Whatever an earlier layout made (the schema holds nothing else): views first, they read the tables.
    const objects = await this.rows<{ name: string; kind: string }>(
      this.writer,
      `SELECT view_name AS name, 'VIEW' AS kind FROM duckdb_views() WHERE NOT internal AND schema_name = $1 AND database_name = current_database()
       UNION ALL
       SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE NOT internal AND schema_name = $1 AND database_name = current_database() AND NOT temporary`,
      [this.schema],
    )
    for (const { name, kind } of objects) await this.writer.run(`DROP ${kind} IF EXISTS "${name}"`)
    for (const ddl of REPLICA_DDL) await this.writer.run(ddl)
    await this.writer.run(
      'INSERT INTO replica_meta (id, version, source_id, cursor_xact, cursor_seq, synced_rows) VALUES (1, $1, $2, 0, 0, 0)',
      [REPLICA_VERSION, sourceId],
    )
    await this.paths.load(this.writer)
  }

  /**
   * Where the sync has got to. Read on a reader connection unless the sync
   * asks: the writer's belongs to the sync, whose appender fails ("closed
   * pending query result") when another query runs on it meanwhile.
   */
  async cursor(on: 'sync' | 'reader' = 'reader'): Promise<SyncCursor> {
    const sql =
      'SELECT source_id, cursor_xact, cursor_seq, synced_rows, synced_at_ms FROM replica_meta WHERE id = 1'
    const [row] = await (on === 'sync'
      ? this.rows<CursorRow>(this.writer, sql)
      : this.query<CursorRow>(sql))
    return {
      sourceId: row!.source_id,
      xact: BigInt(row!.cursor_xact),
      seq: BigInt(row!.cursor_seq),
      syncedRows: BigInt(row!.synced_rows),
      syncedAt: row!.synced_at_ms === null ? null : new Date(Number(row!.synced_at_ms)),
    }
  }

  /** A read-only query for /stats, spread over a few connections so requests do not queue behind each other. */
  async query<T>(sql: string, values: DuckDBValue[] = []): Promise<T[]> {
    if (this.readers.length === 0)
      throw new Error(`the replica of project ${this.project} is closed`)
    const conn = this.readers[this.next++ % this.readers.length]!
    return this.rows<T>(conn, sql, values)
  }

  async rows<T>(conn: DuckDBConnection, sql: string, values: DuckDBValue[] = []): Promise<T[]> {
    try {
      const reader = await conn.runAndReadAll(sql, values)
      return reader.getRowObjects() as T[]
    } catch (err) {
      if (isCorruption(err)) this.corruption ??= err as Error
      throw err
    }
  }

  close(): void {
    if (this.ownsDatabase) this.database.close()
    else this.disconnect()
  }
}
