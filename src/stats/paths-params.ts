import type { FieldError } from '../errors.ts'
import { failed } from './params.ts'
import { DEFAULT_PATH_LIMIT, DEFAULT_PATH_STEPS, type PathsQuery } from './paths-schema.ts'

// What /stats/paths's schema cannot say: exactly one of start= and end=, and
// the anchor's grammar. A node is named as the answer names it, so the anchor
// is turned into a node name here and compared with names in SQL.

export interface PathsSpec {
  /** start: the paths after the anchor's first occurrence; end: before its last */
  mode: 'start' | 'end'
  /** the anchor as a node name: the event type, or page:<path> */
  node: string
  steps: number
  limit: number
}

export const PAGE_PREFIX = 'page:'
const EVENT_PREFIX = 'event:'
const MAX_TYPE_LENGTH = 128
const MAX_PATH_LENGTH = 1024

/** The node an anchor names, or why it names none. */
export function anchorNode(text: string): string | { error: string } {
  if (text.startsWith(EVENT_PREFIX)) {
    const type = text.slice(EVENT_PREFIX.length)
    if (type.length >= 1 && type.length <= MAX_TYPE_LENGTH) return type
    return { error: `event:<event_type>, the type of 1 to ${MAX_TYPE_LENGTH} characters` }
  }
  if (text.startsWith(PAGE_PREFIX)) {
    const path = text.slice(PAGE_PREFIX.length)
    if (path.length >= 1 && path.length <= MAX_PATH_LENGTH) return text
    return { error: `page:<path>, the path of 1 to ${MAX_PATH_LENGTH} characters` }
  }
  return { error: `${JSON.stringify(text)}: expected event:<event_type> or page:<path>` }
}

export function checkPaths(query: PathsQuery, errors: FieldError[]): PathsSpec {
  const spec: PathsSpec = {
    mode: 'start',
    node: '',
    steps: query.steps ?? DEFAULT_PATH_STEPS,
    limit: query.limit ?? DEFAULT_PATH_LIMIT,
  }
  if (failed(errors, 'start') || failed(errors, 'end')) return spec
  if (query.start !== undefined && query.end !== undefined) {
    errors.push({ field: 'end', message: 'give start or end, not both' })
    return spec
  }
  const field = query.end === undefined ? 'start' : 'end'
  const text = query.end ?? query.start
  if (text === undefined) {
    errors.push({
      field: 'start',
      message: 'is required (or end): event:<event_type> or page:<path>',
    })
    return spec
  }
  const node = anchorNode(text)
  if (typeof node !== 'string') errors.push({ field, message: node.error })
  else {
    spec.mode = field
    spec.node = node
  }
  return spec
}
