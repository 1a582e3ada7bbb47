import { parseArgs } from 'node:util'
import { type ApiKeyInfo, SCOPES, type Scope } from '../auth/api-keys.ts'
import { type Project, type ProjectStore, unknownProject } from '../projects/project-store.ts'
import { openCliStorage } from './open-storage.ts'
import { usageErrorFor } from './usage.ts'

// npm run keys -- create [--project shop] --scope read [--name dashboard]
//               | list [--project shop] | revoke <id or prefix>
// A public key is write-only and meant for web pages (the browser script, posthog-js).
const USAGE =
  'usage: keys create [--project NAME] --scope read|write|admin|public [--name NAME]' +
  ' | keys list [--project NAME] | keys revoke <id or key prefix>'

const UsageError = usageErrorFor(USAGE)

function parseCommand() {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        scope: { type: 'string' },
        name: { type: 'string', default: '' },
        project: { type: 'string' },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { positionals, values } = parsed
  const [command, target] = positionals
  if (command === 'create' && !SCOPES.includes(values.scope as Scope))
    throw new UsageError(`--scope must be one of ${SCOPES.join(', ')}`)
  if (command === 'revoke' && values.project !== undefined)
    throw new UsageError('revoke finds the key by its id or prefix alone; --project is not needed')
  if (!(command === 'create' || command === 'list' || (command === 'revoke' && target)))
    throw new UsageError(command === undefined ? 'no command given' : `no command "${command}"`)
  return { ...values, command, target, scope: values.scope as Scope }
}

/**
 * The project a new key belongs to: the one named; none (service-wide) for an
 * admin key without one; otherwise the only project there is, so a service
 * that never made a second project needs no --project, as before projects.
 */
async function projectOfNewKey(
  projects: ProjectStore,
  scope: Scope,
  name: string | undefined,
): Promise<Project | null> {
  if (name !== undefined) return named(projects, name)
  if (scope === 'admin') return null
  const all = await projects.list()
  if (all.length === 1) return all[0]!
  throw new Error(
    `a ${scope} key belongs to one project and there are ${all.length}: name it with --project NAME (npm run projects -- list shows them)`,
  )
}

async function named(projects: ProjectStore, name: string): Promise<Project> {
  const project = await projects.byName(name)
  if (!project) throw unknownProject(name)
  return project
}

/** A key as shown: with its project's name beside the id (null: service-wide). */
function shown(info: ApiKeyInfo, all: readonly Project[]) {
  return { ...info, project: all.find((p) => p.id === info.project_id)?.name ?? null }
}

let exitCode = 0
try {
  const args = parseCommand()
  const storage = await openCliStorage('keys')
  const keys = storage.apiKeys
  const projects = storage.projects
  try {
    if (args.command === 'create') {
      const project = await projectOfNewKey(projects, args.scope, args.project)
      const { key, info } = await keys.create(args.scope, args.name, project?.id ?? null)
      // The key is shown this once; only its digest is stored.
      console.log(JSON.stringify({ ...shown(info, project ? [project] : []), key }, null, 2))
    } else if (args.command === 'list') {
      const only = args.project === undefined ? undefined : await named(projects, args.project)
      const all = await projects.list()
      const listed = await keys.list(only?.id)
      console.log(
        JSON.stringify(
          listed.map((k) => shown(k, all)),
          null,
          2,
        ),
      )
    } else {
      const revoked = await keys.revoke(args.target!)
      console.log(JSON.stringify({ revoked }))
      if (revoked === 0) exitCode = 1
    }
  } finally {
    await storage.close()
  }
} catch (err) {
  console.error((err as Error).message)
  exitCode = 2
}
process.exit(exitCode)
