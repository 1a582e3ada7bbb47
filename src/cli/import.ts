import { stat } from 'node:fs/promises'
import { basename, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { type Config, ConfigError, loadConfig } from '../config.ts'
import { bulkWriter, openStorage, type Storage } from '../deps.ts'
import { IDEMPOTENCY_KEY, type IdempotencyStore, KEEP_HOURS } from '../events/idempotency.ts'
import { fileDigest } from '../import/file-digest.ts'
import { type ImportSummary, importCsv } from '../import/import-csv.ts'
import { formatInt, Progress } from '../import/progress.ts'
import { cliLogger } from '../logger.ts'
import { pickProject } from '../projects/pick-project.ts'
import type { Project } from '../projects/project-store.ts'
import { DataDirLockedError } from '../store/open-store.ts'

// npm run import -- events.csv [--skip-invalid] [--rejects PATH] [--json] ...
const USAGE = `usage: import FILE.csv [options]
  the file: a header row naming event_id,occurred_at,user_id,event_type,properties_json
  --skip-invalid          load the valid rows; write the others, with line and reason, to a side file
  --rejects PATH          that side file (default FILE.csv.rejects.csv)
  --batch-size N          rows validated and inserted together (default 10000)
  --json                  print the summary as JSON
  --quiet                 no progress on stderr
  --progress-interval S   seconds between progress lines when stderr is not a terminal (default 2)
  --idempotency-key KEY   run once per KEY: again with the same file, print the first run's summary instead
  --project NAME          the project the events go to (required when the service holds more than one)
exit status: 0 done, 1 stopped (a bad row, an unreadable file, the store), 2 usage, 130 interrupted`

// 130 for Ctrl-C, as shells report a SIGINT.
const EXIT = { ok: 0, stopped: 1, usage: 2, interrupted: 130 } as const

class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

function usage(message: string): never {
  throw new ExitError(EXIT.usage, `${message}\n${USAGE}`)
}

function parseCommandLine() {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        'skip-invalid': { type: 'boolean', default: false },
        rejects: { type: 'string' },
        'batch-size': { type: 'string', default: '10000' },
        json: { type: 'boolean', default: false },
        quiet: { type: 'boolean', default: false },
        'progress-interval': { type: 'string', default: '2' },
        'idempotency-key': { type: 'string' },
        project: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    })
  } catch (err) {
    usage((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help) throw new ExitError(EXIT.ok, USAGE)
  if (positionals.length !== 1)
    usage(positionals.length === 0 ? 'no file given' : 'one file at a time')
  const batchSize = Number(values['batch-size'])
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000)
    usage('--batch-size must be an integer from 1 to 100000')
  const interval = Number(values['progress-interval'])
  if (!Number.isFinite(interval) || interval < 0)
    usage('--progress-interval must be a number of seconds')
  if (values.rejects !== undefined && !values['skip-invalid'])
    usage('--rejects only makes sense with --skip-invalid')
  const key = values['idempotency-key']
  // The same rule as the API's Idempotency-Key header.
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key))
    usage('--idempotency-key must be 1 to 255 printable ASCII characters')
  const file = positionals[0]!
  const rejects = values.rejects ?? `${file}.rejects.csv`
  // The rejects file is rewritten from the start: it must never be the file being read.
  if (resolve(rejects) === resolve(file)) usage('--rejects must not name the file being imported')
  return { ...values, file, batchSize, interval, rejects, key }
}

async function main(): Promise<number> {
  const args = parseCommandLine()
  // Before the store: opening an embedded one takes seconds, a typo should not.
  const info = await stat(args.file).catch((err: Error) => {
    throw new ExitError(EXIT.stopped, `cannot read ${args.file}: ${err.message}`)
  })
  if (!info.isFile()) throw new ExitError(EXIT.stopped, `cannot read ${args.file}: not a file`)
  let config: Config
  try {
    config = loadConfig(process.env, { dotenv: true })
  } catch (err) {
    if (err instanceof ConfigError) throw new ExitError(EXIT.stopped, err.message)
    throw err
  }
  const log = cliLogger(config.logLevel, 'import')
  const storage = await openStorage(config, log).catch((err: Error) => {
    if (err instanceof DataDirLockedError) {
      throw new ExitError(
        EXIT.stopped,
        `cannot import: ${err.message}.\nAn embedded store is written by one process at a time: ` +
          'stop the service, import, then start it again (or run it on PostgreSQL with DATABASE_URL, where imports and the service run side by side).',
      )
    }
    throw new ExitError(EXIT.stopped, `cannot open the event store: ${err.message}`)
  })
  let project: Project
  try {
    project = await pickProject(storage.projects, args.project, '--project NAME')
  } catch (err) {
    await storage.close()
    throw new ExitError(EXIT.usage, `cannot import: ${(err as Error).message}`)
  }
  let bulk: Awaited<ReturnType<typeof bulkWriter>>
  try {
    bulk = await bulkWriter(storage, project.id)
  } catch (err) {
    await storage.close()
    throw new ExitError(EXIT.stopped, `cannot open the event store: ${(err as Error).message}`)
  }
  const closeAll = async () => {
    await bulk.close().catch(() => {})
    await storage.close().catch(() => {})
  }

  // With a key, the file's digest decides: the same key and file again replay
  // the first run's summary; a different file under the key is refused.
  const keys = storage.idempotency
  let keyClaimed = false
  if (args.key !== undefined) {
    const outcome = await claimKey(keys, project.id, args.key, args.file).catch(
      async (err: unknown) => {
        await closeAll()
        throw err
      },
    )
    if (outcome !== 'claimed') {
      await closeAll()
      process.stdout.write(
        args.json
          ? `${JSON.stringify({ ...outcome, replayed: true })}\n`
          : `replayed: ${outcome.file} was already imported with idempotency key ${args.key}; nothing was imported now. That import's summary:\n${textSummary(outcome, outcome.replica)}\n`,
      )
      return EXIT.ok
    }
    keyClaimed = true
  }
  // Until the run is done (exit 0) the key is only claimed: a run that fails or
  // is interrupted gives it back, so the same command can be run again.
  const releaseKey = async () => {
    if (!keyClaimed) return
    keyClaimed = false
    await keys.release(project.id, KEY_OWNER, args.key!).catch((err: Error) => {
      process.stderr.write(
        `warning: could not release idempotency key ${args.key}: ${err.message}; it stays in use for ${KEEP_HOURS} hours\n`,
      )
    })
  }

  // The first Ctrl-C lets the batch being inserted commit and reports what was
  // stored; a second one quits at once. Either way a re-run skips what is stored.
  const abort = new AbortController()
  process.on('SIGINT', () => {
    if (abort.signal.aborted) {
      // Still give the key back, but never wait long for it.
      setTimeout(() => process.exit(EXIT.interrupted), 2_000).unref()
      void releaseKey().finally(() => process.exit(EXIT.interrupted))
      return
    }
    process.stderr.write(
      '\nstopping after the batch being inserted (Ctrl-C again to quit at once)\n',
    )
    abort.abort()
  })

  const replica =
    storage.db.kind === 'server'
      ? 'the analytics replica of a running service catches up within seconds'
      : 'the analytics replica catches up when the service next starts'
  let summary: ImportSummary
  try {
    summary = await importCsv(bulk.writer, {
      file: args.file,
      batchSize: args.batchSize,
      skipInvalid: args['skip-invalid'],
      rejectsPath: args.rejects,
      limits: {
        maxPropertiesBytes: config.limits.maxPropertiesBytes,
        maxFutureSkewMs: config.limits.maxFutureSkewMs,
      },
      suppressed: await suppressedIds(storage, project.id),
      progress: new Progress({
        out: process.stderr,
        intervalSeconds: args.interval,
        enabled: !args.quiet,
      }),
      signal: abort.signal,
    })
  } catch (err) {
    await releaseKey()
    await closeAll()
    throw new ExitError(
      EXIT.stopped,
      `import of ${args.file} failed: ${(err as Error).message}\n` +
        'Rows of the batches before the failure are stored; running the same import again skips them.',
    )
  }
  const output: PrintedSummary = { ...summary, store: storage.db.kind, replica }
  if (keyClaimed && !summary.stopped && !summary.interrupted) {
    await keys.complete(project.id, KEY_OWNER, args.key!, EXIT.ok, output).then(
      () => (keyClaimed = false),
      (err: Error) => {
        process.stderr.write(
          `warning: the import is done but idempotency key ${args.key} could not be recorded (${err.message}); running it again stores nothing twice\n`,
        )
      },
    )
  }
  await releaseKey()
  await closeAll()

  process.stdout.write(
    args.json ? `${JSON.stringify(output)}\n` : `${textSummary(summary, replica)}\n`,
  )
  if (summary.stopped) {
    const s = summary.stopped
    process.stderr.write(
      `error: ${basename(args.file)}, line ${s.line}${s.field ? `, field ${s.field}` : ''}: ${s.message}\n` +
        `The import stopped there. Nothing from that row's batch was stored; rows of earlier batches were (${formatInt(summary.inserted)} inserted).\n` +
        'Fix the row and run the same import again (rows already stored are skipped), or use --skip-invalid to load the valid rows and set the bad ones aside.\n',
    )
    return EXIT.stopped
  }
  return summary.interrupted ? EXIT.interrupted : EXIT.ok
}

/** What stdout gets with --json, and what a replay prints again. */
type PrintedSummary = ImportSummary & { store: 'server' | 'embedded'; replica: string }

// Its own owner: keys given on the command line never meet an API key's.
const KEY_OWNER = 'cli:import'

/** 'claimed' to go ahead; the first run's summary to replay; otherwise an ExitError saying why not. */
async function claimKey(
  keys: IdempotencyStore,
  project: number,
  key: string,
  file: string,
): Promise<'claimed' | PrintedSummary> {
  let claim
  try {
    claim = await keys.claim(project, KEY_OWNER, key, await fileDigest(file))
  } catch (err) {
    throw new ExitError(
      EXIT.stopped,
      `cannot check idempotency key ${key}: ${(err as Error).message}`,
    )
  }
  switch (claim.kind) {
    case 'claimed':
      return 'claimed'
    case 'replay':
      return claim.response as PrintedSummary
    case 'mismatch':
      throw new ExitError(
        EXIT.stopped,
        `idempotency key ${key} was already used to import a different file (the content differs from ${file}'s).\n` +
          'Nothing was imported. Use a new key for a new file.',
      )
    case 'in-progress':
      throw new ExitError(
        EXIT.stopped,
        `an import with idempotency key ${key} is still running; nothing was imported.\n` +
          `Run this again once it has finished to see its summary. (If that import was killed, the key stays in use for ${KEEP_HOURS} hours: use a new one.)`,
      )
  }
}

async function suppressedIds(storage: Storage, project: number): Promise<Set<string>> {
  const { rows } = await storage.db.query<{ user_id: string }>(
    'SELECT user_id FROM suppressions WHERE project_id = $1',
    [project],
  )
  return new Set(rows.map((r) => r.user_id))
}

function textSummary(s: ImportSummary, replica: string): string {
  const lines = [
    `${s.interrupted ? 'interrupted' : s.stopped ? 'stopped' : 'imported'} ${s.file}: ` +
      `${formatInt(s.read)} rows read, ${formatInt(s.inserted)} inserted, ${formatInt(s.duplicates)} duplicates, ` +
      (s.suppressed > 0 ? `${formatInt(s.suppressed)} of deleted users (suppressed), ` : '') +
      `${formatInt(s.rejected)} rejected in ${s.seconds.toFixed(1)} s (${formatInt(s.rows_per_second)} rows/s)`,
  ]
  if (s.rejects_file) lines.push(`rejected rows, with their line and reason: ${s.rejects_file}`)
  if (s.inserted > 0) lines.push(replica)
  return lines.join('\n')
}

try {
  process.exit(await main())
} catch (err) {
  if (!(err instanceof ExitError)) throw err
  ;(err.code === EXIT.ok ? process.stdout : process.stderr).write(`${err.message}\n`)
  process.exit(err.code)
}
