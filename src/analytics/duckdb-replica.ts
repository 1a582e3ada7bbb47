import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { dirname } from 'node:path'
import { type DuckDBConnection, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api'
import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
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
 * The columnar replica. One instance per file per process; DuckDB's own file
 * lock makes a second process fail to open it, which we turn into a message
 * that says what to do.
 */
export class DuckDbReplica {
  private readers: DuckDBConnection[] = []
  private next = 0

  private constructor(
    readonly path: string,
    /** DuckDB's memory limit, which the sync sizes its chunks by */
    readonly memoryLimit: string,
    private instance: DuckDBInstance,
    private writerConn: DuckDBConnection,
    private readonly options: ReplicaOptions,
    /** the numbered property paths; the sync adds to them */
    readonly paths: PropertyPaths,
    private readonly log: Logger,
  ) {}

  /** the connection the sync writes through */
  get writer(): DuckDBConnection {
    return this.writerConn
  }

  /** A checksum or read error met on the replica file, until the file is replaced. */
  corruption: Error | undefined

  static async open(path: string, options: ReplicaOptions, log: Logger): Promise<DuckDbReplica> {
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
    const replica = new DuckDbReplica(
      path,
      options.memoryLimit,
      instance,
      await instance.connect(),
      options,
      new PropertyPaths(options.maxPropertyPaths, options.maxRollupValues),
      log,
    )
    await replica.connectReaders()
    await replica.ensureSchema(log)
    return replica
  }

  /** Moves a corrupted file aside and starts an empty one in its place; the sync then refills it. */
  async replaceCorruptFile(): Promise<void> {
    const cause = this.corruption ?? new Error('corrupt')
    this.close()
    moveAside(this.path, cause, this.log)
    this.instance = await createInstance(this.path, this.options)
    this.writerConn = await this.instance.connect()
    this.readers = []
    await this.connectReaders()
    this.corruption = undefined
    await this.ensureSchema(this.log)
  }

  private async connectReaders(): Promise<void> {
    for (let i = 0; i < READER_CONNECTIONS; i++) this.readers.push(await this.instance.connect())
  }

  private async ensureSchema(log: Logger): Promise<void> {
    for (const ddl of REPLICA_DDL) await this.writer.run(ddl)
    const rows = await this.rows<{ version: number }>(
      this.writer,
      'SELECT version FROM replica_meta WHERE id = 1',
    )
    if (rows.length === 0) {
      await this.writer.run('INSERT INTO replica_meta VALUES (1, $1, NULL, 0, 0, 0, NULL)', [
        REPLICA_VERSION,
      ])
    } else if (rows[0]!.version !== REPLICA_VERSION) {
      log.warn(
        { found: rows[0]!.version, expected: REPLICA_VERSION },
        'replica layout changed; rebuilding it from PostgreSQL',
      )
      await this.reset()
    }
    await this.paths.load(this.writer)
  }

  /** Empties the replica; the sync then refills it from the beginning, from `sourceId`. */
  async reset(sourceId: string | null = null): Promise<void> {
    // Whatever an earlier layout made (the file holds nothing else): views first, they read the tables.
    const objects = await this.rows<{ name: string; kind: string }>(
      this.writer,
      `SELECT view_name AS name, 'VIEW' AS kind FROM duckdb_views() WHERE NOT internal AND schema_name = 'main'
       UNION ALL
       SELECT table_name, 'TABLE' FROM duckdb_tables() WHERE NOT internal AND schema_name = 'main' AND NOT temporary`,
    )
    for (const { name, kind } of objects) await this.writer.run(`DROP ${kind} IF EXISTS "${name}"`)
    for (const ddl of REPLICA_DDL) await this.writer.run(ddl)
    await this.writer.run('INSERT INTO replica_meta VALUES (1, $1, $2, 0, 0, 0, NULL)', [
      REPLICA_VERSION,
      sourceId,
    ])
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
    for (const c of this.readers) c.closeSync()
    this.writer.closeSync()
    this.instance.closeSync()
  }
}
