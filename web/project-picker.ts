import { ApiError, getJson } from './api.ts'
import { h } from './format.ts'

export interface ProjectInfo {
  id: number
  name: string
  events_per_day: number | null
  created_at: string
}

/**
 * The projects the key in use may read, the default project first (the API
 * lists them by id): a project's key gets its own, a service-wide key or an
 * open service every one. null from a service older than projects, whose
 * routes take no `project=`.
 */
export async function fetchProjects(): Promise<ProjectInfo[] | null> {
  try {
    return await getJson<ProjectInfo[]>('/projects')
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null
    throw err
  }
}

/**
 * The project in the header: its name alone when the key reads one project,
 * a <select> when it reads several. It also picks the project to show for a
 * link, and says so when the link names one this key cannot read.
 */
export class ProjectPicker {
  private readonly picker: HTMLElement
  private readonly select: HTMLSelectElement
  private readonly name: HTMLElement
  private readonly note: HTMLElement
  private listed: string | undefined

  constructor(
    private readonly root: HTMLElement,
    onChange: (project: string) => void,
  ) {
    this.picker = root.querySelector<HTMLElement>('#project-picker')!
    this.select = this.picker.querySelector('select')!
    this.name = root.querySelector<HTMLElement>('#project-name')!
    this.note = root.querySelector<HTMLElement>('#project-note')!
    this.select.addEventListener('change', () => {
      this.note.hidden = true
      onChange(this.select.value)
    })
  }

  /**
   * Shows the projects and returns the one to show: `wanted` (the link's) when
   * it is among them, else the first, which is the default project for a
   * service-wide key and a project key's own. null: no projects to name.
   */
  choose(projects: ProjectInfo[] | null, wanted: string | undefined): string | null {
    if (!projects || projects.length === 0) {
      this.root.hidden = true
      return null
    }
    const chosen = projects.find((p) => p.name === wanted)?.name ?? projects[0]!.name
    this.root.hidden = false
    const several = projects.length > 1
    this.picker.hidden = !several
    this.name.hidden = several
    if (several) {
      // Rebuilt only when the list changes, so a person's focus on it survives a reload.
      const names = projects.map((p) => p.name).join('\n')
      if (names !== this.listed) {
        this.select.replaceChildren(...projects.map((p) => h('option', { value: p.name }, p.name)))
        this.listed = names
      }
      this.select.value = chosen
    } else {
      this.name.querySelector('strong')!.textContent = chosen
    }
    this.root.dataset.project = chosen
    this.note.hidden = wanted === undefined || wanted === chosen
    this.note.textContent = `This key reads no project "${wanted}": showing "${chosen}".`
    return chosen
  }

  /** No project known: the list could not be read (a missing key, say). */
  clear(): void {
    this.root.hidden = true
    delete this.root.dataset.project
  }
}
