import { parseArgs } from 'node:util'
import { DeletionRunner } from '../deletion/deletion-runner.ts'
import { DEFAULT_PROJECT_ID, unknownProject } from '../projects/project-store.ts'
import { openCliStorage } from './open-storage.ts'
import { usageErrorFor } from './usage.ts'

// npm run users -- delete <user id> [--project shop] [--no-wait]
//               | status <deletion id> [--project shop] | lift <user id> [--project shop]
// The same as DELETE /users/{id}, GET /deletions/{id} and DELETE /suppressions/{id}.
const USAGE =
  'usage: users delete <user id> [--project NAME] [--no-wait] | users status <deletion id> [--project NAME]' +
  ' | users lift <user id> [--project NAME]'

const UsageError = usageErrorFor(USAGE)

function parseCommand() {
  let parsed
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: { project: { type: 'string' }, 'no-wait': { type: 'boolean', default: false } },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const [command, target] = parsed.positionals
  if (!(command === 'delete' || command === 'status' || command === 'lift'))
    throw new UsageError(command === undefined ? 'no command given' : `no command "${command}"`)
  if (!target) throw new UsageError(`${command} needs an id`)
  return { command, target, project: parsed.values.project, wait: !parsed.values['no-wait'] }
}

let exitCode = 0
try {
  const args = parseCommand()
  const storage = await openCliStorage('users')
  try {
    let project = DEFAULT_PROJECT_ID
    if (args.project !== undefined) {
      const named = await storage.projects.byName(args.project)
      if (!named) throw unknownProject(args.project)
      project = named.id
    }
    const { deletions } = storage
    if (args.command === 'delete') {
      let deletion = await deletions.request(project, args.target, 'cli')
      if (args.wait) {
        // The store's part runs here to the end (the service's runners would
        // do it too, without counting a row twice); the replica applies it
        // when its sync next looks: GET /deletions/{id} shows replica_events then.
        const runner = new DeletionRunner(
          storage.db,
          {
            chunkBlocks: storage.config.deletion.chunkBlocks,
            pollMs: 1_000,
            archiveDir: storage.config.retention.archiveDir,
          },
          storage.log,
        )
        while (deletion.state !== 'done') {
          await runner.runOnce()
          deletion = (await deletions.get(project, deletion.deletion_id))!
          if (deletion.state !== 'done') await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
      console.log(JSON.stringify(deletion, null, 2))
    } else if (args.command === 'status') {
      const deletion = /^[0-9a-f-]{36}$/i.test(args.target)
        ? await deletions.get(project, args.target)
        : undefined
      if (!deletion) {
        console.error(`no deletion ${args.target} in this project`)
        exitCode = 1
      } else console.log(JSON.stringify(deletion, null, 2))
    } else {
      const lifted = await deletions.lift(project, args.target, 'cli')
      console.log(JSON.stringify({ lifted }))
      if (!lifted) exitCode = 1
    }
  } finally {
    await storage.close()
  }
} catch (err) {
  console.error((err as Error).message)
  exitCode = 2
}
process.exit(exitCode)
