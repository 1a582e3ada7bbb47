import type { CopyEventStore } from '../store/event-store.ts'

/**
 * Tells the idle sync that rows were committed, so it reads at once instead of
 * at its next poll. Wake-ups are coalesced: however many arrive while the sync
 * reads or applies a chunk, they lead to one more read.
 */
export class SyncWaker {
  private pending = false
  private waiter: (() => void) | undefined
  private readonly children: SyncWaker[] = []

  wake(): void {
    this.pending = true
    this.waiter?.()
    for (const child of this.children) child.wake()
  }

  /** A waker of its own for one more waiting sync (each project's), woken with this one. */
  child(): SyncWaker {
    const child = new SyncWaker()
    this.children.push(child)
    return child
  }

  /** Stops waking a child (its project is gone). */
  forget(child: SyncWaker): void {
    const i = this.children.indexOf(child)
    if (i >= 0) this.children.splice(i, 1)
  }

  /**
   * Resolves at the first wake-up since the last call returned (at once if one
   * came meanwhile), after `ms`, or when `signal` aborts. A wake-up it
   * consumes is one the read that follows will cover.
   */
  async wait(ms: number, signal: AbortSignal): Promise<void> {
    if (!this.pending && !signal.aborted) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer)
          signal.removeEventListener('abort', done)
          this.waiter = undefined
          resolve()
        }
        const timer = setTimeout(done, ms)
        signal.addEventListener('abort', done)
        this.waiter = done
      })
    }
    this.pending = false
  }
}

/** The store, waking the sync after each insert (or COPY) that committed new rows. */
export function wakingStore(store: CopyEventStore, waker: SyncWaker): CopyEventStore {
  const woken = async (inserting: Promise<number>) => {
    const inserted = await inserting
    if (inserted > 0) waker.wake()
    return inserted
  }
  return {
    copies: store.copies,
    insert: (events) => woken(store.insert(events)),
    insertCopy: (copy) => woken(store.insertCopy(copy)),
    existingIds: (ids, project) => store.existingIds(ids, project),
    ping: () => store.ping(),
    close: () => store.close(),
  }
}
