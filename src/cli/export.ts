import { createWriteStream } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { Readable, Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { parseArgs } from 'node:util'
import type { FieldError } from '../errors.ts'
import { type ExportPlan, exportRows } from '../export/export-rows.ts'
import { isEventLevel } from '../export/export-sql.ts'
import { EXPORT_FORMATS, EXPORT_STREAM, type ExportFormat, encode } from '../export/formats.ts'
import { pickProject } from '../projects/pick-project.ts'
import { firstKeptDay } from '../retention/cutoff.ts'
import { checkRange, checkSegments } from '../stats/params.ts'
import { openCliStorage } from './open-storage.ts'

// npm run export -- --from 2026-11-01 --to 2026-11-30 --format csv --out events.csv
const USAGE = `usage: export --from YYYY-MM-DD --to YYYY-MM-DD [options]
  --format F          ndjson (default), csv (the columns npm run import reads) or parquet (zstd)
  --out FILE          write there (replaced only once complete); default: stdout
  --segment FILTER    field[:op]:value on event_type or properties.<path>, as /stats takes it; repeatable
  --user-id ID        only this id's events (GET /export?user_id= adds the ids merged into it)
  --project NAME      the project (required when the service holds more than one)
exit status: 0 done, 1 failed, 2 usage`

class ExitError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

const DAY = /^\d{4}-\d{2}-\d{2}$/

function parseCommandLine() {
  let parsed
  try {
    parsed = parseArgs({
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        format: { type: 'string', default: 'ndjson' },
        out: { type: 'string' },
        segment: { type: 'string', multiple: true, default: [] },
        'user-id': { type: 'string' },
        project: { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    })
  } catch (err) {
    throw new ExitError(2, `${(err as Error).message}\n${USAGE}`)
  }
  const v = parsed.values
  if (v.help) throw new ExitError(0, USAGE)
  // The API's rules and messages, each naming its option.
  const errors: FieldError[] = []
  for (const name of ['from', 'to'] as const) {
    const day = v[name]
    if (day === undefined) errors.push({ field: name, message: 'is required (YYYY-MM-DD)' })
    else if (!DAY.test(day) || Number.isNaN(Date.parse(day)))
      errors.push({ field: name, message: 'must be a UTC day, YYYY-MM-DD' })
  }
  const range = checkRange({ from: v.from ?? '', to: v.to ?? '' }, Number.MAX_SAFE_INTEGER, errors)
  if (!(EXPORT_FORMATS as readonly string[]).includes(v.format))
    errors.push({ field: 'format', message: `must be one of ${EXPORT_FORMATS.join(', ')}` })
  const segments = checkSegments('segment', v.segment, errors)
  const personLevel = segments.find((s) => !isEventLevel(s))
  if (personLevel)
    errors.push({
      field: 'segment',
      message: `${JSON.stringify(personLevel.text)}: user_id and user.<trait> filters need the analytics replica; use GET /export`,
    })
  const userId = v['user-id']
  if (userId !== undefined && (userId.length < 1 || userId.length > 256))
    errors.push({ field: 'user-id', message: 'must be a user id of 1 to 256 characters' })
  if (errors.length > 0)
    throw new ExitError(2, `${errors.map((e) => `--${e.field} ${e.message}`).join('\n')}\n${USAGE}`)
  return {
    range,
    format: v.format as ExportFormat,
    segments,
    userId,
    out: v.out,
    project: v.project,
  }
}

async function main(): Promise<number> {
  const args = parseCommandLine()
  const storage = await openCliStorage('export').catch((err: Error) => {
    throw new ExitError(1, `cannot open the event store: ${err.message}`)
  })
  try {
    let project
    try {
      project = await pickProject(storage.projects, args.project, '--project NAME')
    } catch (err) {
      throw new ExitError(2, `cannot export: ${(err as Error).message}`)
    }
    const plan: ExportPlan = {
      project: project.id,
      // As GET /export: nothing past the project's retention (cutoff.ts).
      fromDay: Math.max(
        args.range.from,
        firstKeptDay(project, storage.config.retention.days, new Date()) ?? args.range.from,
      ),
      toDay: args.range.to,
      segments: args.segments,
      ...(args.userId !== undefined ? { userIds: [args.userId] } : {}),
    }
    const source = Readable.from(encode(exportRows(storage.db, plan), args.format), EXPORT_STREAM)
    if (args.out === undefined) {
      await pipeline(source, stdout())
      return 0
    }
    // Written beside the target and renamed at the end: a failed export leaves no half file under its name.
    const partial = `${args.out}.partial`
    try {
      await pipeline(source, createWriteStream(partial))
      await rename(partial, args.out)
    } catch (err) {
      await rm(partial, { force: true })
      throw new ExitError(1, `export failed: ${(err as Error).message}`)
    }
    return 0
  } finally {
    await storage.close()
  }
}

/** process.stdout without closing it at the end (pipeline would). */
function stdout(): Writable {
  return new Writable({
    write(chunk, _encoding, done) {
      if (process.stdout.write(chunk)) done()
      else process.stdout.once('drain', () => done())
    },
  })
}

try {
  process.exit(await main())
} catch (err) {
  if (!(err instanceof ExitError)) throw err
  ;(err.code === 0 ? process.stdout : process.stderr).write(`${err.message}\n`)
  process.exit(err.code)
}
