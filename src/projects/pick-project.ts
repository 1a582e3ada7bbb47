import { AppError } from '../errors.ts'
import { type Project, type ProjectStore, unknownProject } from './project-store.ts'

/**
 * The project a caller that may reach every project (a service-wide key, the
 * keyless service, a command-line tool) means: the one it names, or, when it
 * names none, the only one there is. With several, naming one is required, so
 * no answer silently mixes or picks projects.
 */
export async function pickProject(
  projects: ProjectStore,
  name: string | undefined,
  hint: string,
): Promise<Project> {
  if (name !== undefined) {
    const project = await projects.byName(name)
    if (!project) throw unknownProject(name)
    return project
  }
  const all = await projects.known()
  if (all.length === 1) return all[0]!
  throw new AppError(
    422,
    'PROJECT_REQUIRED',
    `this service holds ${all.length} projects (${all.map((p) => p.name).join(', ')}): name one with ${hint}`,
    { errors: [{ field: 'project', message: `required: name one of ${all.length} projects` }] },
  )
}
