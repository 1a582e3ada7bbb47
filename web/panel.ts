import { ApiError } from './api.ts'
import { formatDuration } from './format.ts'
import type { View } from './view.ts'

/** What a load found: figures, nothing in the range, or nothing to show for another reason (said in words). */
export type Outcome = 'ready' | 'empty' | { empty: string }

/**
 * One panel's frame: its state is in data-state (loading, ready, empty,
 * error), and once loaded data-project, data-range and data-ms say which
 * project and range it shows and how long it took, so tests and people can
 * tell a stale panel from a fresh one.
 */
export class Panel {
  readonly body: HTMLElement
  private readonly message: HTMLElement
  private readonly timing: HTMLElement | null

  constructor(
    readonly root: HTMLElement,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.body = root.querySelector<HTMLElement>('.panel-body')!
    this.message = root.querySelector<HTMLElement>('.panel-message')!
    this.timing = root.querySelector<HTMLElement>('.panel-timing')
  }

  /** Runs one load: shows progress, then the figures, "no events", or the error's message. */
  async load(view: View | undefined, render: () => Promise<Outcome>): Promise<void> {
    const started = performance.now()
    this.loading()
    try {
      const outcome = await render()
      const ms = performance.now() - started
      if (outcome === 'ready') this.show('ready', '')
      else this.show('empty', outcome === 'empty' ? 'No events in this range.' : outcome.empty)
      if (view) {
        this.root.dataset.range = `${view.from}..${view.to}`
        this.root.dataset.project = view.project ?? ''
      }
      this.root.dataset.ms = String(Math.round(ms))
      if (this.timing) this.timing.textContent = `loaded in ${formatDuration(ms)}`
    } catch (err) {
      if ((err as Error).name === 'AbortError') return // a newer load replaced this one
      this.fail(err)
    }
  }

  /** Marks the panel busy: what it shows is about to be replaced. */
  loading(): void {
    this.root.dataset.state = 'loading'
    this.root.setAttribute('aria-busy', 'true')
  }

  fail(err: unknown): void {
    const text =
      err instanceof ApiError
        ? err.message
        : `Something went wrong in this page: ${(err as Error).message}`
    this.show('error', text)
    this.root.dataset.status = err instanceof ApiError ? String(err.status) : 'page'
    if (this.timing) this.timing.textContent = ''
    this.onError(err)
  }

  private show(state: 'ready' | 'empty' | 'error', text: string): void {
    this.root.dataset.state = state
    this.root.removeAttribute('aria-busy')
    if (state !== 'error') delete this.root.dataset.status
    this.body.hidden = state !== 'ready'
    this.message.hidden = text === ''
    this.message.textContent = text
    this.message.className = `panel-message ${state}`
    this.message.setAttribute('role', state === 'error' ? 'alert' : 'status')
  }
}
