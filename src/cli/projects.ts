import { parseArgs } from 'node:util'
import type { Storage } from '../deps.ts'
import { PROJECT_NAME, ProjectNameError, type ProjectStore } from '../projects/project-store.ts'
import { parseOrigins } from '../web-intake/origins.ts'
import { openCliStorage } from './open-storage.ts'
import { usageErrorFor } from './usage.ts'

// npm run projects -- create NAME [--events-per-day N] | list | rename OLD NEW
//                   | quota NAME N|none | delete NAME --confirm
//                   | origins NAME ORIGIN[,ORIGIN...]|any | visitor-id NAME hashed|persistent
//                   | gpc NAME honor|ignore | retention NAME DAYS|default
const USAGE =
  'usage: projects create NAME [--events-per-day N] | projects list | projects rename OLD NEW' +
  ' | projects quota NAME N|none | projects delete NAME --confirm' +
  ' | projects origins NAME https://a.example,https://b.example|any' +
  ' | projects visitor-id NAME hashed|persistent | projects gpc NAME honor|ignore' +
  ' | projects retention NAME DAYS|default'

const UsageError = usageErrorFor(USAGE)

type Action = (projects: ProjectStore, storage: Storage) => Promise<void>

const print = (value: unknown) => console.log(JSON.stringify(value, null, 2))
const counted = (n: number, thing: string) => `${n} ${thing}${n === 1 ? '' : 's'}`

function eventsPerDay(text: string, what: string): number {
  const n = Number(text)
  // The column is a bigint with CHECK (> 0); past 2^53 a JS number is no longer exact.
  if (!/^[1-9][0-9]*$/.test(text) || !Number.isSafeInteger(n))
    throw new UsageError(`${what} must be a whole number of events per day, 1 or more`)
  return n
}

/**
 * The command line as the action it asks for, checked whole before the store
 * is opened: opening an embedded one takes seconds, a typo should not.
 */
function parseCommand(argv: string[]): Action {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { 'events-per-day': { type: 'string' }, confirm: { type: 'boolean' } },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { positionals, values } = parsed
  const [command, ...args] = positionals
  const arity: Record<string, number> = {
    create: 1,
    list: 0,
    rename: 2,
    quota: 2,
    delete: 1,
    origins: 2,
    'visitor-id': 2,
    gpc: 2,
    retention: 2,
  }
  if (command === undefined || !Object.hasOwn(arity, command))
    throw new UsageError(command === undefined ? 'no command given' : `no command "${command}"`)
  if (args.length !== arity[command])
    throw new UsageError(
      `${command} takes ${counted(arity[command]!, 'argument')}, not ${args.length}`,
    )
  if (values['events-per-day'] !== undefined && command !== 'create')
    throw new UsageError('--events-per-day goes with create; quota changes it later')
  if (values.confirm !== undefined && command !== 'delete')
    throw new UsageError('--confirm goes with delete')
  const [a = '', b = ''] = args
  // The store checks a new name too; here it costs no store opening.
  const newName = command === 'create' ? a : command === 'rename' ? b : undefined
  if (newName !== undefined && !PROJECT_NAME.test(newName)) throw new ProjectNameError(newName)

  switch (command) {
    case 'create': {
      const perDay = values['events-per-day']
      const quota = perDay === undefined ? null : eventsPerDay(perDay, '--events-per-day')
      return async (projects) => print(await projects.create(a, { eventsPerDay: quota }))
    }
    case 'list':
      return async (projects) => print(await projects.list())
    case 'rename':
      return async (projects) => print(await projects.rename(a, b))
    case 'quota': {
      const quota = b === 'none' ? null : eventsPerDay(b, 'the quota')
      return async (projects) => print(await projects.setQuota(a, quota))
    }
    case 'origins': {
      const origins = b === 'any' ? null : parseOrigins(b)
      if (typeof origins === 'string') throw new UsageError(origins)
      return async (projects) => print(await projects.setWeb(a, { allowed_origins: origins }))
    }
    case 'visitor-id': {
      if (b !== 'hashed' && b !== 'persistent')
        throw new UsageError('visitor-id is hashed (cookieless, the default) or persistent')
      return async (projects) =>
        print(await projects.setWeb(a, { persistent_visitor_id: b === 'persistent' }))
    }
    case 'gpc': {
      if (b !== 'honor' && b !== 'ignore') throw new UsageError('gpc is honor or ignore')
      return async (projects) => print(await projects.setWeb(a, { honor_gpc: b === 'honor' }))
    }
    case 'retention': {
      const days = b === 'default' ? null : Number(b)
      // The column is an integer with CHECK (> 0).
      if (days !== null && (!/^[1-9][0-9]*$/.test(b) || days > 2 ** 31 - 1))
        throw new UsageError(
          "retention is a whole number of days, 1 or more, or default (the service's RETENTION_DAYS)",
        )
      return async (projects) => print(await projects.setRetention(a, days))
    }
    default:
      return values.confirm ? remove(a) : refuseRemove(a)
  }
}

function remove(name: string): Action {
  return async (projects) => {
    const { project, events } = await projects.delete(name)
    console.log(JSON.stringify({ deleted: project.name, events }))
  }
}

/** Deleting cannot be undone: without --confirm, say what it would take. */
function refuseRemove(name: string): Action {
  return async (projects, storage) => {
    const project = await projects.deletable(name)
    const events = await projects.eventCount(project.id)
    const keys = await storage.apiKeys.list(project.id)
    const active = keys.filter((k) => k.revoked_at === null).length
    throw new Error(
      `deleting project "${name}" removes its ${counted(events, 'event')} and` +
        ` ${counted(keys.length, 'API key')} (${active} active), for good; run it again with --confirm to do it`,
    )
  }
}

let exitCode = 0
try {
  const action = parseCommand(process.argv.slice(2))
  const storage = await openCliStorage('projects')
  try {
    await action(storage.projects, storage)
  } finally {
    await storage.close()
  }
} catch (err) {
  console.error((err as Error).message)
  exitCode = 2
}
process.exit(exitCode)
